//! Database-neutral values and rows, so one SQL text serves both backends.

use crate::store::StoreError;

/// A parameter or column value. Timestamps are stored as `i64` microseconds since the
/// Unix epoch (UTC) on both backends, which keeps SQL identical and comparisons cheap.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer column (ids, timestamps, counters).
    Int(i64),
    /// Any text column.
    Text(String),
    /// A boolean (SQLite stores it as 0/1).
    Bool(bool),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One result row, columns in `SELECT` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn col(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Decode(format!("no column {i}")))
    }

    /// Column `i` as an integer.
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.col(i)? {
            Value::Int(v) => Ok(*v),
            Value::Bool(b) => Ok(i64::from(*b)),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected int, got {other:?}"
            ))),
        }
    }

    /// Column `i` as a nullable integer.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.col(i)? {
            Value::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// Column `i` as text.
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.col(i)? {
            Value::Text(v) => Ok(v.clone()),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }

    /// Column `i` as a boolean (SQLite's 0/1 included).
    pub fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match self.col(i)? {
            Value::Bool(v) => Ok(*v),
            Value::Int(v) => Ok(*v != 0),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected bool, got {other:?}"
            ))),
        }
    }
}
