//! `/api`: the API reference as a page, rendered on the server from the OpenAPI document
//! (`/api/v1/openapi.json`), so the two never disagree and nothing loads from elsewhere.

use askama::Template;
use axum::response::Html;
use serde_json::Value;

use super::api::ApiDoc;
use super::error::WebError;

pub struct Param {
    pub name: String,
    pub location: String,
    pub kind: String,
    pub required: bool,
    pub description: String,
    pub example: String,
}

pub struct Outcome {
    pub status: String,
    pub description: String,
    pub body: String,
}

pub struct Operation {
    pub anchor: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub params: Vec<Param>,
    pub responses: Vec<Outcome>,
    pub example: String,
}

pub struct Field {
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub description: String,
}

pub struct Schema {
    pub name: String,
    pub description: String,
    pub fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "api.html")]
pub struct ApiPage {
    pub title: String,
    pub description: String,
    pub operations: Vec<Operation>,
    pub schemas: Vec<Schema>,
}

/// A schema's type in words: "integer", "string (date)", "array of ListItem", "Score or
/// null".
fn type_of(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = s.get(key).and_then(Value::as_array) {
            let parts: Vec<String> = list.iter().map(type_of).collect();
            return parts.join(" or ");
        }
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        let v: Vec<String> = values
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect();
        return format!("one of {}", v.join(", "));
    }
    let base = match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "object".to_string(),
    };
    if base.starts_with("array") {
        if let Some(items) = s.get("items") {
            return format!("{base} of {}", type_of(items));
        }
    }
    match s.get("format").and_then(Value::as_str) {
        Some(f) => format!("{base} ({f})"),
        None => base,
    }
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The page's content, from the OpenAPI document.
pub fn page() -> ApiPage {
    let doc = serde_json::to_value(<ApiDoc as utoipa::OpenApi>::openapi()).unwrap_or_default();
    let mut operations = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let Some(methods) = item.as_object() else {
                continue;
            };
            for (method, op) in methods {
                let params = op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .map(|ps| {
                        ps.iter()
                            .map(|p| Param {
                                name: text(p.get("name")),
                                location: text(p.get("in")),
                                kind: p.get("schema").map(type_of).unwrap_or_default(),
                                required: p.get("required").and_then(Value::as_bool) == Some(true),
                                description: text(p.get("description")),
                                example: text(
                                    p.get("example")
                                        .or_else(|| p.get("schema").and_then(|s| s.get("example"))),
                                ),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let responses = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .map(|rs| {
                        rs.iter()
                            .map(|(status, r)| Outcome {
                                status: status.clone(),
                                description: text(r.get("description")),
                                body: r
                                    .get("content")
                                    .and_then(Value::as_object)
                                    .and_then(|c| c.iter().next())
                                    .map(|(ct, media)| match media.get("schema") {
                                        Some(s) => format!("{ct}: {}", type_of(s)),
                                        None => ct.clone(),
                                    })
                                    .unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let example = example_url(path, op);
                operations.push(Operation {
                    anchor: format!("{method}-{path}")
                        .replace(['/', '{', '}', '.'], "-")
                        .trim_matches('-')
                        .to_string(),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text(op.get("description").or_else(|| op.get("summary"))),
                    params,
                    responses,
                    example,
                });
            }
        }
    }
    operations.sort_by(|a, b| a.path.cmp(&b.path));
    let mut schemas = Vec::new();
    if let Some(all) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, s) in all {
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let fields = s
                .get("properties")
                .and_then(Value::as_object)
                .map(|props| {
                    props
                        .iter()
                        .map(|(field, p)| Field {
                            name: field.clone(),
                            kind: type_of(p),
                            required: required.contains(&field.as_str()),
                            description: text(p.get("description")),
                        })
                        .collect()
                })
                .unwrap_or_default();
            schemas.push(Schema {
                name: name.clone(),
                description: text(s.get("description")),
                fields,
            });
        }
    }
    ApiPage {
        title: "API reference".into(),
        description: text(doc.pointer("/info/description")),
        operations,
        schemas,
    }
}

/// A request to try: the path with its parameters' examples filled in.
fn example_url(path: &str, op: &Value) -> String {
    let mut url = path.to_string();
    let mut query = Vec::new();
    for p in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = text(p.get("name"));
        let example = text(
            p.get("example")
                .or_else(|| p.get("schema").and_then(|s| s.get("example"))),
        );
        match text(p.get("in")).as_str() {
            "path" => url = url.replace(&format!("{{{name}}}"), &example),
            "query" if matches!(name.as_str(), "category" | "significant") => {
                query.push(format!("{name}={example}"))
            }
            _ => {}
        }
    }
    if query.is_empty() {
        url
    } else {
        format!("{url}?{}", query.join("&"))
    }
}

pub async fn reference() -> Result<Html<String>, WebError> {
    Ok(Html(page().render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_and_schema_is_on_the_page_with_typed_parameters() {
        let p = page();
        let paths: Vec<&str> = p.operations.iter().map(|o| o.path.as_str()).collect();
        for want in [
            "/api/v1/events",
            "/api/v1/events/{id}",
            "/api/v1/categories",
            "/api/v1/tokens",
            "/api/v1/categories/{slug}/events",
            "/api/v1/tokens/{symbol}/events",
            "/events.csv",
            "/api/v1/moves",
            "/moves.csv",
        ] {
            assert!(paths.contains(&want), "{want} in {paths:?}");
        }
        let events = p
            .operations
            .iter()
            .find(|o| o.path == "/api/v1/events")
            .unwrap();
        let kind = |n: &str| {
            events
                .params
                .iter()
                .find(|x| x.name == n)
                .map(|x| x.kind.clone())
                .unwrap_or_default()
        };
        assert!(
            kind("min_score").contains("number"),
            "{}",
            kind("min_score")
        );
        assert!(kind("per_page").contains("integer"), "{}", kind("per_page"));
        assert!(kind("significant").contains("boolean"));
        assert!(kind("from").contains("date"), "{}", kind("from"));
        let detail = p.schemas.iter().find(|s| s.name == "EventDetail").unwrap();
        assert!(detail
            .fields
            .iter()
            .any(|f| f.name == "score" && f.kind.contains("ScoreOut")));
        let one = p
            .operations
            .iter()
            .find(|o| o.path == "/api/v1/events/{id}")
            .unwrap();
        assert_eq!(one.example, "/api/v1/events/12");
        assert!(one.responses.iter().any(|r| r.body.contains("EventDetail")));
    }
}
