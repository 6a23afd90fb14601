//! Python values on their way to the Channel: converted to JSON with a
//! depth limit, cycle detection and finite numbers only, so that what an
//! application passes on from a remote client (its capabilities, its
//! `rtpParameters`) can neither crash the interpreter (unbounded recursion)
//! nor reach the worker in a form its reader refuses. Every error names the
//! argument and the path inside it, in Python's subscript notation.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PySequence, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// How deeply containers may nest inside one argument: far above any real
/// parameter set (mediasoup's deepest is 4), far below what the worker's
/// reader takes (serde_json's 128, with the request's own levels around it).
pub const MAX_DEPTH: usize = 64;

/// Path segments shown in an error before the rest is elided.
const PATH_SHOWN: usize = 8;

/// `value`, the argument `name`, as JSON.
pub fn to_json(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Value> {
    Converter::new(name).convert(value)
}

/// `arguments`, a dict of named arguments (a Channel request's data), as a
/// JSON object; each argument is bounded on its own, as by [`to_json`].
pub fn arguments_to_json(arguments: &Bound<'_, PyAny>, method: &str) -> PyResult<Value> {
    let dict = arguments
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err(format!("{method}: the request's data must be a dict")))?;
    let mut object = Map::with_capacity(dict.len());
    for (key, value) in dict.iter() {
        let key: String = key.extract().map_err(|_| PyTypeError::new_err(format!("{method}: argument names must be str")))?;
        let converted = Converter::new(&key).convert(&value)?;
        object.insert(key, converted);
    }
    Ok(Value::Object(object))
}

enum Segment {
    Key(String),
    Index(usize),
}

struct Converter<'a> {
    name: &'a str,
    path: Vec<Segment>,
    /// The containers being converted, outermost first: one met again is a cycle.
    open: Vec<*mut pyo3::ffi::PyObject>,
}

impl<'a> Converter<'a> {
    fn new(name: &'a str) -> Self {
        Self { name, path: Vec::new(), open: Vec::new() }
    }

    /// `rtpParameters['codecs'][0]['parameters']`, elided past a few segments.
    fn at(&self) -> String {
        let mut text = self.name.to_owned();
        for segment in self.path.iter().take(PATH_SHOWN) {
            match segment {
                Segment::Key(key) => {
                    let shown: String = key.chars().take(40).collect();
                    let ellipsis = if shown.len() < key.len() { "…" } else { "" };
                    text.push_str(&format!("[{shown:?}{ellipsis}]").replace('"', "'"));
                }
                Segment::Index(index) => text.push_str(&format!("[{index}]")),
            }
        }
        if self.path.len() > PATH_SHOWN {
            text.push_str(&format!("…({} levels)", self.path.len()));
        }
        text
    }

    fn convert(&mut self, value: &Bound<'_, PyAny>) -> PyResult<Value> {
        if value.is_none() {
            return Ok(Value::Null);
        }
        if let Ok(flag) = value.cast::<PyBool>() {
            return Ok(Value::Bool(flag.is_true()));
        }
        if value.is_instance_of::<PyInt>() {
            if let Ok(int) = value.extract::<i64>() {
                return Ok(Value::from(int));
            }
            if let Ok(int) = value.extract::<u64>() {
                return Ok(Value::from(int));
            }
            return Err(PyValueError::new_err(format!("{} is out of the 64-bit integer range", self.at())));
        }
        if let Ok(float) = value.cast::<PyFloat>() {
            let number = float.value();
            return Number::from_f64(number)
                .map(Value::Number)
                .ok_or_else(|| PyValueError::new_err(format!("{} must be a finite number, not {number}", self.at())));
        }
        if let Ok(text) = value.cast::<PyString>() {
            return Ok(Value::String(self.text(text)?));
        }
        if let Ok(dict) = value.cast::<PyDict>() {
            // A snapshot of the items: nothing met while converting changes what is iterated.
            let items = pairs(dict.items().iter())?;
            return self.nested(value, |converter| converter.object(items.into_iter()));
        }
        if let Ok(list) = value.cast::<PyList>() {
            return self.nested(value, |converter| converter.array(list.iter()));
        }
        if let Ok(tuple) = value.cast::<PyTuple>() {
            return self.nested(value, |converter| converter.array(tuple.iter()));
        }
        if let Ok(mapping) = value.cast::<PyMapping>() {
            let items = pairs(mapping.items()?.iter())?;
            return self.nested(value, |converter| converter.object(items.into_iter()));
        }
        let is_text = value.is_instance_of::<pyo3::types::PyBytes>() || value.is_instance_of::<pyo3::types::PyByteArray>();
        if let (false, Ok(sequence)) = (is_text, value.cast::<PySequence>()) {
            let items: Vec<_> = sequence.try_iter()?.collect::<PyResult<_>>()?;
            return self.nested(value, |converter| converter.array(items.into_iter()));
        }
        let type_name = value.get_type().name().map(|name| name.to_string()).unwrap_or_default();
        Err(PyTypeError::new_err(format!(
            "{} must be a str, int, float, bool, None, dict or list, not {type_name}",
            self.at()
        )))
    }

    /// A str's text; one with a lone surrogate (`'\ud800'`) has no UTF-8 form.
    fn text(&self, text: &Bound<'_, PyString>) -> PyResult<String> {
        text.to_str().map(str::to_owned).map_err(|_| {
            PyValueError::new_err(format!("{} is not valid Unicode text (it holds a lone surrogate)", self.at()))
        })
    }

    /// Converts a container one level deeper, refusing cycles and depth.
    fn nested(&mut self, container: &Bound<'_, PyAny>, convert: impl FnOnce(&mut Self) -> PyResult<Value>) -> PyResult<Value> {
        let pointer = container.as_ptr();
        if self.open.contains(&pointer) {
            return Err(PyValueError::new_err(format!("{} contains itself (a cyclic reference)", self.at())));
        }
        if self.open.len() >= MAX_DEPTH {
            return Err(PyValueError::new_err(format!("{} nests containers more than {MAX_DEPTH} levels deep", self.at())));
        }
        self.open.push(pointer);
        let converted = convert(self);
        self.open.pop();
        converted
    }

    fn object<'py>(&mut self, items: impl Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>) -> PyResult<Value> {
        let mut object = Map::new();
        for (key, value) in items {
            let Ok(key) = key.cast::<PyString>() else {
                let type_name = key.get_type().name().map(|name| name.to_string()).unwrap_or_default();
                return Err(PyTypeError::new_err(format!("{}: dict keys must be str, not {type_name}", self.at())));
            };
            let key = self.text(key)?;
            self.path.push(Segment::Key(key));
            let converted = self.convert(&value);
            let Some(Segment::Key(key)) = self.path.pop() else { unreachable!("pushed above") };
            object.insert(key, converted?);
        }
        Ok(Value::Object(object))
    }

    fn array<'py>(&mut self, items: impl Iterator<Item = Bound<'py, PyAny>>) -> PyResult<Value> {
        let mut array = Vec::new();
        for (index, item) in items.enumerate() {
            self.path.push(Segment::Index(index));
            let converted = self.convert(&item);
            self.path.pop();
            array.push(converted?);
        }
        Ok(Value::Array(array))
    }
}

/// The `(key, value)` pairs of a mapping's `items()`.
fn pairs<'py>(items: impl Iterator<Item = Bound<'py, PyAny>>) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    items.map(|item| item.extract()).collect()
}
