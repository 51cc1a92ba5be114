//! Reading a JSON body's members: the handlers of the API's actions share these, so a
//! member that is not asked for, or of the wrong type, is refused in the same words
//! everywhere.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use kanta_core::Problem;
use serde_json::{Map, Value};

use super::ApiError;
use super::entities::json_object;

/// The body's members as a map; members other than `allowed` are refused by name.
pub(crate) fn body_of(
    body: Result<Bytes, BytesRejection>,
    allowed: &[&str],
) -> Result<Map<String, Value>, ApiError> {
    let obj = json_object(body)?;
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_field(
            k,
            format!(
                "'{k}' is not a member of the body: send {}",
                allowed.join(", ")
            ),
        ));
    }
    Ok(obj)
}

/// A text member as given (none when absent or null); any other type is a problem
/// collected under its name.
pub(crate) fn text(
    obj: &Map<String, Value>,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    match obj.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            problems.push(Problem::new(name, format!("must be a text, not {other}")));
            None
        }
    }
}
