//! Project-level CI/CD variables (<https://docs.gitlab.com/api/project_level_variables/>), for
//! Maintainers and above: list, read one, create (`masked_and_hidden` makes it masked and
//! hidden), update.
//!
//! As on GitLab: a hidden variable's `value` is `null` in every answer and `hidden` cannot
//! change after creation (nor can a hidden variable be unmasked); a masked value must be at
//! least 8 characters on one line without spaces, else `{"message": {"value": ["is invalid"]}}`;
//! a second variable with the same key is `{"message": {"key": ["(KEY) has already been
//! taken"]}}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, ApiError, ApiResult, Input, created, ok, paginated, project_access};
use crate::fake_gitlab::model::{CiVariable, access};

fn render(variable: &CiVariable) -> Value {
    json!({
        "variable_type": "env_var",
        "key": variable.key,
        "value": if variable.hidden { Value::Null } else { json!(variable.value) },
        "protected": variable.protected,
        "masked": variable.masked,
        "hidden": variable.hidden,
        "raw": variable.raw,
        "environment_scope": "*",
        "description": variable.description,
    })
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, json!({"message": {field: [message]}}))
}

/// GitLab's rule for a value it can mask in job logs.
fn maskable(value: &str) -> bool {
    value.len() >= 8 && !value.chars().any(char::is_whitespace)
}

/// `GET /projects/:id/variables`.
pub async fn list(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::MAINTAINER)?;
    let items = api.state().variables.iter().filter(|v| v.project_id == project.id).map(render).collect();
    paginated(&api, &input, items)
}

/// `GET /projects/:id/variables/:key`.
pub async fn get_one(State(api): State<Api>, Path((id, key)): Path<(String, String)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::MAINTAINER)?;
    let state = api.state();
    let variable = state.variables.iter().find(|v| v.project_id == project.id && v.key == key);
    ok(render(variable.ok_or_else(|| ApiError::not_found("Variable"))?))
}

/// `POST /projects/:id/variables`.
pub async fn create(State(api): State<Api>, Path(id): Path<String>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::MAINTAINER)?;
    let key = input.require_str("key")?;
    if key.len() > 255 || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(invalid("key", "can contain only letters, digits and '_'."));
    }
    let value = input.params.str("value").ok_or_else(|| ApiError::missing("value"))?;
    let hidden = input.bool("masked_and_hidden")?.unwrap_or(false);
    let masked = hidden || input.bool("masked")?.unwrap_or(false);
    if masked && !maskable(&value) {
        return Err(invalid("value", "is invalid"));
    }
    let mut state = api.state();
    if state.variables.iter().any(|v| v.project_id == project.id && v.key == key) {
        return Err(invalid("key", &format!("({key}) has already been taken")));
    }
    let variable = CiVariable {
        project_id: project.id,
        key,
        value,
        masked,
        hidden,
        protected: input.bool("protected")?.unwrap_or(false),
        raw: input.bool("raw")?.unwrap_or(false),
        description: input.params.str("description"),
    };
    let value = render(&variable);
    state.variables.push(variable);
    created(value)
}

/// `PUT /projects/:id/variables/:key`.
pub async fn update(State(api): State<Api>, Path((id, key)): Path<(String, String)>, input: Input) -> ApiResult {
    let (_, project) = project_access(&api, &input, &id, access::MAINTAINER)?;
    let value = input.params.str("value");
    let masked = input.bool("masked")?;
    let protected = input.bool("protected")?;
    let raw = input.bool("raw")?;
    let description = input.params.str("description");
    let mut state = api.state();
    let variable = state
        .variables
        .iter_mut()
        .find(|v| v.project_id == project.id && v.key == key)
        .ok_or_else(|| ApiError::not_found("Variable"))?;
    if variable.hidden && masked == Some(false) {
        return Err(invalid("base", "Only visible variables can be set to visible"));
    }
    let masked = masked.unwrap_or(variable.masked);
    let value = value.unwrap_or_else(|| variable.value.clone());
    if masked && !maskable(&value) {
        return Err(invalid("value", "is invalid"));
    }
    variable.value = value;
    variable.masked = masked;
    variable.protected = protected.unwrap_or(variable.protected);
    variable.raw = raw.unwrap_or(variable.raw);
    if description.is_some() {
        variable.description = description;
    }
    ok(render(variable))
}
