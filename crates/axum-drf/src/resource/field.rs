//! Resource fields: how each is read from SQL, rendered, validated and described.

use serde_json::{json, Map, Value};

use crate::datetime::{format_datetime, validate_datetime, INVALID_DATETIME};
use crate::fields::{python_number, CharField, NULL, REQUIRED};
use crate::python::PyInt;
use crate::request::python_type_name;
use crate::store::{Row, StoreError, Value as Sql};

/// What kind of value a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// The primary key (read-only integer).
    Id,
    /// Text with a maximum length (DRF `CharField`).
    Char {
        /// Upper bound in characters.
        max_length: usize,
    },
    /// A timestamp (DRF `DateTimeField`), stored as epoch microseconds.
    DateTime {
        /// `null` accepted and rendered.
        nullable: bool,
    },
    /// A primary key of another table (DRF `PrimaryKeyRelatedField`); only rows the user
    /// owns may be referenced.
    Related {
        /// The referenced table.
        table: &'static str,
        /// Its owner column.
        owner_column: &'static str,
    },
    /// A boolean, usually a computed read-only expression.
    Bool,
}

/// One field of a resource.
#[derive(Debug, Clone)]
pub struct Field {
    /// Name in JSON.
    pub name: &'static str,
    /// SQL expression selecting it, against the table alias `t`; `{param}` placeholders are
    /// bound from the resource's parameters.
    pub select: &'static str,
    /// Column written from client input; `None` = read-only.
    pub column: Option<&'static str>,
    /// Column set to "now" on creation (DRF's `auto_now_add`).
    pub created_at: Option<&'static str>,
    /// Value kind.
    pub kind: FieldKind,
    /// Must be present on create and PUT.
    pub required: bool,
}

impl Field {
    /// The `id` primary key.
    pub fn id() -> Self {
        Field {
            name: "id",
            select: "t.id",
            column: None,
            created_at: None,
            kind: FieldKind::Id,
            required: false,
        }
    }

    /// A required text column of the same name, e.g. `Field::char("name", "t.name", 100)`.
    pub fn char(name: &'static str, select: &'static str, max_length: usize) -> Self {
        Field {
            name,
            select,
            column: Some(name),
            created_at: None,
            kind: FieldKind::Char { max_length },
            required: true,
        }
    }

    /// A required reference to a row of `table` owned by the same user, stored in `column`.
    pub fn related(
        name: &'static str,
        select: &'static str,
        column: &'static str,
        table: &'static str,
        owner_column: &'static str,
    ) -> Self {
        Field {
            name,
            select,
            column: Some(column),
            created_at: None,
            kind: FieldKind::Related {
                table,
                owner_column,
            },
            required: true,
        }
    }

    /// An optional, nullable, writable timestamp column.
    pub fn optional_datetime(
        name: &'static str,
        select: &'static str,
        column: &'static str,
    ) -> Self {
        Field {
            name,
            select,
            column: Some(column),
            created_at: None,
            kind: FieldKind::DateTime { nullable: true },
            required: false,
        }
    }

    /// A read-only timestamp set by the server at creation.
    pub fn created_at(name: &'static str, select: &'static str, column: &'static str) -> Self {
        Field {
            name,
            select,
            column: None,
            created_at: Some(column),
            kind: FieldKind::DateTime { nullable: false },
            required: false,
        }
    }

    /// A read-only boolean computed by an SQL expression.
    pub fn computed_bool(name: &'static str, select: &'static str) -> Self {
        Field {
            name,
            select,
            column: None,
            created_at: None,
            kind: FieldKind::Bool,
            required: false,
        }
    }

    /// Whether clients may write it.
    pub fn writable(&self) -> bool {
        self.column.is_some()
    }

    /// DRF's label: the name with underscores as spaces, first letter capitalised.
    pub fn label(&self) -> String {
        if self.kind == FieldKind::Id {
            return "ID".into();
        }
        let spaced = self.name.replace('_', " ");
        let mut chars = spaced.chars();
        match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }

    /// The field's entry in OPTIONS metadata (DRF's `SimpleMetadata`).
    pub fn metadata(&self) -> Value {
        let ty = match self.kind {
            FieldKind::Id => "integer",
            FieldKind::Char { .. } => "string",
            FieldKind::DateTime { .. } => "datetime",
            FieldKind::Related { .. } => "field",
            FieldKind::Bool => "boolean",
        };
        let mut info = json!({
            "type": ty,
            "required": self.required,
            "read_only": !self.writable(),
            "label": self.label(),
        });
        if let FieldKind::Char { max_length } = self.kind {
            info["max_length"] = json!(max_length);
        }
        info
    }

    /// The field in the OpenAPI schema.
    pub fn openapi(&self) -> crate::openapi::FieldDoc {
        let schema = match self.kind {
            FieldKind::Id | FieldKind::Related { .. } => json!({"type": "integer"}),
            FieldKind::Char { max_length } => {
                json!({"type": "string", "minLength": 1, "maxLength": max_length})
            }
            FieldKind::DateTime { nullable } => {
                json!({"type": "string", "format": "date-time", "nullable": nullable})
            }
            FieldKind::Bool => json!({"type": "boolean"}),
        };
        crate::openapi::FieldDoc {
            name: self.name,
            schema,
            read_only: !self.writable(),
            required: self.required,
        }
    }

    /// The JSON value of column `i` of a row.
    pub fn render(&self, row: &Row, i: usize) -> Result<Value, StoreError> {
        Ok(match self.kind {
            FieldKind::Id | FieldKind::Related { .. } => json!(row.int(i)?),
            FieldKind::Char { .. } => json!(row.text(i)?),
            FieldKind::DateTime { .. } => match row.opt_int(i)? {
                Some(t) => json!(format_datetime(t)),
                None => Value::Null,
            },
            FieldKind::Bool => json!(row.bool(i)?),
        })
    }
}

impl Field {
    /// Appends column `i` of a row as JSON, without building a `Value` (the list path).
    pub(crate) fn write_json(
        &self,
        row: &Row,
        i: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        match self.kind {
            FieldKind::Id | FieldKind::Related { .. } => {
                out.extend_from_slice(itoa::Buffer::new().format(row.int(i)?).as_bytes());
            }
            FieldKind::Char { .. } => match &row.0[i] {
                Sql::Text(t) => serde_json::to_writer(&mut *out, t)
                    .map_err(|e| StoreError::Decode(e.to_string()))?,
                other => return Err(StoreError::Decode(format!("column {i}: {other:?}"))),
            },
            FieldKind::DateTime { .. } => match row.opt_int(i)? {
                Some(t) => {
                    out.push(b'"');
                    crate::datetime::write_datetime(t, out);
                    out.push(b'"');
                }
                None => out.extend_from_slice(b"null"),
            },
            FieldKind::Bool => {
                out.extend_from_slice(if row.bool(i)? { b"true" } else { b"false" });
            }
        }
        Ok(())
    }
}

/// The outcome of validating one field's input.
pub(crate) enum Parsed {
    /// A value for the field's column.
    Value(Sql),
    /// A referenced id still to be checked against the database.
    Reference { id: Option<i64>, shown: String },
}

/// Validates a present value of a writable field (DRF's `to_internal_value`).
pub(crate) fn parse(field: &Field, value: &Value, form: bool) -> Result<Parsed, Vec<String>> {
    match field.kind {
        FieldKind::Char { max_length } => CharField::new()
            .max_length(max_length)
            .validate_value(value)
            .map(|v| Parsed::Value(v.map_or(Sql::Null, Sql::Text))),
        FieldKind::DateTime { nullable } => match value {
            Value::Null if nullable => Ok(Parsed::Value(Sql::Null)),
            Value::Null => Err(vec![NULL.into()]),
            // An empty form field means "no value" for a nullable field, as DRF reads HTML input.
            Value::String(s) if form && s.is_empty() && nullable => Ok(Parsed::Value(Sql::Null)),
            Value::String(s) => validate_datetime(s)
                .map(|t| Parsed::Value(Sql::Int(t)))
                .map_err(|message| vec![message.into()]),
            _ => Err(vec![INVALID_DATETIME.into()]),
        },
        FieldKind::Related { .. } => parse_pk(value),
        FieldKind::Id | FieldKind::Bool => Err(vec![]),
    }
}

fn incorrect_type(v: &Value) -> Vec<String> {
    vec![format!(
        "Incorrect type. Expected pk value, received {}.",
        python_type_name(v)
    )]
}

/// DRF's `PrimaryKeyRelatedField` input rules: ints, numeric strings (Python `int()`), and
/// floats (Django truncates them) are looked up; booleans, lists and objects are type errors.
/// `id: None` is an integer no row can have (beyond 64 bits).
pub(crate) fn parse_pk(value: &Value) -> Result<Parsed, Vec<String>> {
    match value {
        Value::Null => Err(vec![NULL.into()]),
        Value::String(s) if s.is_empty() => Err(vec![NULL.into()]),
        Value::Number(n) => {
            let id = n.as_i64().or_else(|| {
                let f = n.as_f64()?.trunc();
                // `as` saturates: only values inside the range are ids.
                (f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
            });
            Ok(Parsed::Reference {
                id,
                shown: python_number(n),
            })
        }
        Value::String(s) => match PyInt::parse(s) {
            Some(parsed) => Ok(Parsed::Reference {
                id: parsed.to_i64(),
                shown: s.clone(),
            }),
            None => Err(incorrect_type(value)),
        },
        other => Err(incorrect_type(other)),
    }
}

/// Collects validated columns for an insert or update; see [`super::Resource`].
pub(crate) fn missing(
    field: &Field,
    data: &Map<String, Value>,
    partial: bool,
) -> Option<&'static str> {
    (!partial && field.required && !data.contains_key(field.name)).then_some(REQUIRED)
}
