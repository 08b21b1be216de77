//! Request parameters the way GitLab's API (Grape) sees them: the query string, a form-encoded
//! body and a JSON body merged into one JSON object, with Rails-style bracket keys
//! (`position[new_line]`, `variables[KEY]`, `reviewer_ids[]`) expanded into nested values.
//!
//! Clients send the same parameter in any of these encodings, so every handler reads through
//! [`Params`] and coerces types the way GitLab does (`"5"` and `5` are the same integer).

use serde_json::{Map, Value};

/// The merged parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct Params(Map<String, Value>);

impl Params {
    /// Merges the query string and the body (JSON or form-encoded, chosen by `content_type`).
    /// A body that cannot be parsed is an error message for a 400.
    pub fn parse(query: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Result<Self, String> {
        let mut map = Map::new();
        if let Some(query) = query {
            merge_form(&mut map, query.as_bytes());
        }
        let content_type = content_type.unwrap_or("").to_ascii_lowercase();
        let trimmed = body.iter().position(|b| !b.is_ascii_whitespace());
        if trimmed.is_some() {
            if content_type.starts_with("application/json") {
                let value: Value = serde_json::from_slice(body).map_err(|_| "body is not valid JSON".to_owned())?;
                match value {
                    Value::Object(object) => {
                        for (key, value) in object {
                            map.insert(key, value);
                        }
                    }
                    _ => return Err("body must be a JSON object".to_owned()),
                }
            } else if content_type.starts_with("multipart/") {
                return Err("multipart bodies are not supported by this fake".to_owned());
            } else {
                merge_form(&mut map, body);
            }
        }
        Ok(Self(map))
    }

    /// Parameters stored earlier as a JSON object (a draft's position); anything else is empty.
    pub fn from_json(value: &Value) -> Self {
        match value {
            Value::Object(object) => Self(object.clone()),
            _ => Self::default(),
        }
    }

    /// The raw value under `key`.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A nested object (`position`, `variables`) as its own parameters.
    pub fn nested(&self, key: &str) -> Option<Params> {
        match self.value(key) {
            Some(Value::Object(object)) => Some(Params(object.clone())),
            _ => None,
        }
    }

    /// A string parameter; numbers and booleans are rendered as text, as Grape coerces them.
    pub fn str(&self, key: &str) -> Option<String> {
        scalar_text(self.value(key)?)
    }

    /// An integer parameter given as a number or a decimal string.
    /// `Err` carries Grape's message for a value of the wrong type.
    pub fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.value(key) {
            None => Ok(None),
            Some(value) => as_int(value).map(Some).ok_or_else(|| format!("{key} is invalid")),
        }
    }

    /// A boolean parameter (`true`/`false`, `1`/`0`, as Grape accepts them).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(value) => match scalar_text(value).as_deref() {
                Some("true" | "1" | "yes" | "t") => Ok(Some(true)),
                Some("false" | "0" | "no" | "f") => Ok(Some(false)),
                _ => Err(format!("{key} is invalid")),
            },
        }
    }

    /// An integer list: a JSON array, repeated `key[]` form values, or a comma-separated string.
    pub fn int_list(&self, key: &str) -> Result<Option<Vec<i64>>, String> {
        let Some(value) = self.value(key) else { return Ok(None) };
        let items: Vec<Value> = match value {
            Value::Array(items) => items.clone(),
            Value::String(text) if text.is_empty() => Vec::new(),
            Value::String(text) => text.split(',').map(|part| Value::String(part.trim().to_owned())).collect(),
            other => vec![other.clone()],
        };
        items
            .iter()
            .map(|item| as_int(item).ok_or_else(|| format!("{key} is invalid")))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// A string list: a JSON array, repeated `key[]` values, or a comma-separated string (labels).
    pub fn str_list(&self, key: &str) -> Option<Vec<String>> {
        let value = self.value(key)?;
        let items = match value {
            Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
            Value::String(text) => {
                text.split(',').map(str::trim).filter(|part| !part.is_empty()).map(str::to_owned).collect()
            }
            other => scalar_text(other).into_iter().collect(),
        };
        Some(items)
    }

    /// String-valued entries of a nested object (`variables[KEY]=value`), or of an array of
    /// `{key, value}` objects as the create-pipeline endpoint takes them.
    pub fn string_map(&self, key: &str) -> Vec<(String, String)> {
        match self.value(key) {
            Some(Value::Object(object)) => {
                object.iter().filter_map(|(k, v)| scalar_text(v).map(|v| (k.clone(), v))).collect()
            }
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| {
                    let key = item.get("key").and_then(scalar_text)?;
                    let value = item.get("value").and_then(scalar_text).unwrap_or_default();
                    Some((key, value))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Expands `a[b][c]=v` and `a[]=v` into nested JSON, merging into `map`.
fn merge_form(map: &mut Map<String, Value>, encoded: &[u8]) {
    for (key, value) in form_urlencoded_pairs(encoded) {
        let (head, path) = split_brackets(&key);
        insert_path(map, &head, &path, Value::String(value));
    }
}

fn form_urlencoded_pairs(encoded: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(encoded).unwrap_or_default()
}

/// `position[line_range][start][type]` → (`position`, [`line_range`, `start`, `type`]);
/// `reviewer_ids[]` → (`reviewer_ids`, [``]).
fn split_brackets(key: &str) -> (String, Vec<String>) {
    let Some(open) = key.find('[') else { return (key.to_owned(), Vec::new()) };
    let head = key[..open].to_owned();
    let mut path = Vec::new();
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        match stripped.find(']') {
            Some(close) => {
                path.push(stripped[..close].to_owned());
                rest = &stripped[close + 1..];
            }
            None => break,
        }
    }
    (head, path)
}

fn insert_path(map: &mut Map<String, Value>, head: &str, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        map.insert(head.to_owned(), value);
        return;
    };
    if first.is_empty() {
        let entry = map.entry(head.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        if let Value::Array(items) = entry {
            if rest.is_empty() {
                items.push(value);
            } else {
                // `a[][k]=v`: an array of objects; a repeated key starts a new object.
                let starts_new = match items.last() {
                    Some(Value::Object(last)) => rest.first().is_some_and(|k| last.contains_key(k)),
                    _ => true,
                };
                if starts_new {
                    items.push(Value::Object(Map::new()));
                }
                if let Some(Value::Object(last)) = items.last_mut() {
                    insert_path(last, &rest[0], &rest[1..], value);
                }
            }
        }
        return;
    }
    let entry = map.entry(head.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(inner) = entry {
        insert_path(inner, first, rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracket_keys_become_nested_values() {
        let body = b"position[new_line]=5&position[base_sha]=abc&reviewer_ids[]=1&reviewer_ids[]=2&variables[KEY]=v";
        let params = Params::parse(None, Some("application/x-www-form-urlencoded"), body).unwrap();
        let position = params.nested("position").unwrap();
        assert_eq!(position.int("new_line").unwrap(), Some(5));
        assert_eq!(position.str("base_sha").as_deref(), Some("abc"));
        assert_eq!(params.int_list("reviewer_ids").unwrap(), Some(vec![1, 2]));
        assert_eq!(params.string_map("variables"), vec![("KEY".to_owned(), "v".to_owned())]);
    }

    #[test]
    fn json_body_overrides_query_and_keeps_types() {
        let params =
            Params::parse(Some("title=q&ref=main"), Some("application/json"), br#"{"title":"t","ids":[3,"4"]}"#)
                .unwrap();
        assert_eq!(params.str("title").as_deref(), Some("t"));
        assert_eq!(params.str("ref").as_deref(), Some("main"));
        assert_eq!(params.int_list("ids").unwrap(), Some(vec![3, 4]));
    }

    #[test]
    fn labels_accept_a_comma_list() {
        let params = Params::parse(Some("labels=a,%20b"), None, b"").unwrap();
        assert_eq!(params.str_list("labels").unwrap(), vec!["a", "b"]);
    }
}
