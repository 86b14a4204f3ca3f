//! The API against its own description, as schemathesis would check it: the document is read
//! from a real server, and every GET operation is asked with generated values (the valid ones
//! its parameters' descriptions name, and odd ones: unknown words, bad months, negative and huge
//! numbers, long and strange strings) by each role; every POST operation with bodies generated
//! from its request schema (valid, each property odd or missing, no JSON at all). No answer may be a 5xx, every status must be
//! documented, and every JSON answer must validate against the schema documented for its
//! status, objects holding no key the schema does not name.

use std::collections::{BTreeMap, BTreeSet};

use credit_gateway::clock::Clock;
use credit_gateway::config::Settings;
use credit_gateway::ingest::{IngestOptions, ingest_file};
use credit_gateway::sim::sample::{SampleFormat, SampleItem};
use credit_gateway::store::Store;
use credit_gateway::web::auth;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// Odd values every parameter is tried with, besides the words its description names.
fn odd_values() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "0",
        "1",
        "-1",
        "500",
        "501",
        "1.5",
        "1e3",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "abc",
        "unknown",
        "2026-03",
        "2026-13",
        "0000-00",
        "2026-3",
        "2026-02-30",
        "2026-03-01",
        "9999-12-31",
        "-deadline",
        "--deadline",
        ",",
        "department,,push",
        "overdue,",
        "%",
        "_",
        "\\",
        "'",
        "\"; DROP TABLE records; --",
        "<script>alert(1)</script>",
        "处罚",
        "市场监督管理局",
        "🙂",
        "\u{0}",
        "a\u{0}b",
        "91",
        "9111",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("处".repeat(3000));
    v.push("9".repeat(18));
    v
}

/// The words a parameter's description names (its valid values, `CF`, `department,returned`,
/// `YYYY-MM`, …).
fn described_values(param: &Value) -> Vec<String> {
    let about = param["description"].as_str().unwrap_or("");
    let mut words: Vec<String> = about
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ','))
        .map(|w| w.trim_matches(','))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    words.dedup();
    words
}

/// Percent-encodes a path segment or a query's name or value.
fn segment(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// `schema` made strict: an object (or an `allOf` of objects) has no key beyond those its
/// schema names (`unevaluatedProperties: false`). The members of an `allOf` are not strict
/// themselves (each names only its part of the keys): a `$ref` there points at the loose copy
/// `NAME__loose`, whose name goes into `loose`.
fn strict(schema: &Value, in_all_of: bool, loose: &mut BTreeSet<String>) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                let value = match (key.as_str(), value) {
                    ("allOf", Value::Array(members)) => {
                        Value::Array(members.iter().map(|m| strict(m, true, loose)).collect())
                    }
                    ("properties", Value::Object(props)) => {
                        Value::Object(props.iter().map(|(name, s)| (name.clone(), strict(s, false, loose))).collect())
                    }
                    ("$ref", Value::String(target)) if in_all_of => {
                        let name = target.rsplit('/').next().unwrap().to_string();
                        loose.insert(name.clone());
                        Value::String(format!("#/components/schemas/{name}__loose"))
                    }
                    (_, v) => strict(v, false, loose),
                };
                out.insert(key.clone(), value);
            }
            let object = map.contains_key("properties") || map.contains_key("allOf");
            if object && !in_all_of && !map.contains_key("additionalProperties") {
                out.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|s| strict(s, false, loose)).collect()),
        other => other.clone(),
    }
}

/// A schema with its `$ref` (one level) taken from the document's components.
fn resolve(doc: &Value, schema: &Value) -> Value {
    match schema["$ref"].as_str() {
        Some(target) => doc["components"]["schemas"][target.rsplit('/').next().unwrap()].clone(),
        None => schema.clone(),
    }
}

/// A valid value of a property: the words of a case the office would register, else by type
/// (the record's id for a number, `false` for a flag, text).
fn sample_value(name: &str, property: &Value, record_id: i64) -> Value {
    match name {
        "ground" => return json!("信息错误"),
        "applicant" => return json!("张三丰"),
        "text" => return json!("名称有误"),
        _ => {}
    }
    let types = property["type"].to_string();
    if types.contains("integer") || types.contains("number") {
        json!(record_id)
    } else if types.contains("boolean") {
        json!(false)
    } else {
        json!("测试内容")
    }
}

/// Request bodies from an object schema (see the POST part of `generated_requests`).
fn generated_bodies(schema: &Value, record_id: i64) -> Vec<String> {
    let properties = schema["properties"].as_object().cloned().unwrap_or_default();
    // The required properties and the record's id: an identifier more (文书号, subject) would
    // have to name the same record.
    let required = schema["required"].to_string();
    let valid: serde_json::Map<String, Value> = properties
        .iter()
        .filter(|(name, _)| required.contains(&format!("\"{name}\"")) || name.as_str() == "record_id")
        .map(|(name, p)| (name.clone(), sample_value(name, p, record_id)))
        .collect();
    let mut odd: Vec<Value> = odd_values().into_iter().map(Value::String).collect();
    odd.extend([
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(true),
        json!(null),
        json!([]),
        json!({}),
        json!(["a"]),
    ]);
    let mut bodies = vec![Value::Object(valid.clone())];
    for name in properties.keys() {
        for value in &odd {
            let mut b = valid.clone();
            b.insert(name.clone(), value.clone());
            bodies.push(Value::Object(b));
        }
        let mut b = valid.clone();
        b.remove(name);
        bodies.push(Value::Object(b));
    }
    let mut extra = valid.clone();
    extra.insert("unexpected".into(), json!(1));
    bodies.extend([Value::Object(extra), json!({}), json!([]), json!(null), json!("文本"), json!(1)]);
    let mut texts: Vec<String> = bodies.iter().map(Value::to_string).collect();
    texts.extend(["", "{", "not json", "{\"a\":", "\u{0}", "{\"record_id\": 1,}"].map(String::from));
    texts
}

/// Validates answers against the document's schemas, `$ref`s resolved in its components.
struct Schemas {
    components: Value,
    compiled: BTreeMap<String, jsonschema::Validator>,
}

impl Schemas {
    fn new(doc: &Value) -> Schemas {
        let mut loose = BTreeSet::new();
        let mut schemas = serde_json::Map::new();
        for (name, schema) in doc["components"]["schemas"].as_object().expect("components.schemas") {
            schemas.insert(name.clone(), strict(schema, false, &mut loose));
        }
        let mut done = BTreeSet::new();
        while let Some(name) = loose.iter().find(|n| !done.contains(*n)).cloned() {
            done.insert(name.clone());
            let original = &doc["components"]["schemas"][&name];
            assert!(original.is_object(), "{name} is referred to but not in the components");
            schemas.insert(format!("{name}__loose"), strict(original, true, &mut loose));
        }
        Schemas { components: json!({"schemas": schemas}), compiled: BTreeMap::new() }
    }

    /// What is wrong with `answer` against `schema` (empty when it validates).
    fn check(&mut self, key: &str, schema: &Value, answer: &Value) -> Vec<String> {
        let components = &self.components;
        let validator = self.compiled.entry(key.to_string()).or_insert_with(|| {
            let mut unused = BTreeSet::new();
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "allOf": [strict(schema, false, &mut unused)],
                "components": components,
            });
            assert!(unused.is_empty(), "{key}: an allOf at the top of a response schema");
            jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{key}: the schema does not compile: {e}"))
        });
        validator.iter_errors(answer).take(5).map(|e| format!("at {}: {e}", e.instance_path())).collect()
    }
}

/// One request's verdict: what is wrong with its answer, if anything.
async fn ask(
    web: &Web,
    schemas: &mut Schemas,
    op: &Value,
    path: &str,
    query: &[(&str, &str)],
    token: &str,
    validated: &mut BTreeMap<String, usize>,
) -> Vec<String> {
    let pairs: Vec<String> = query.iter().map(|(n, v)| format!("{}={}", segment(n), segment(v))).collect();
    let search = if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) };
    let r = web.client.get(format!("{}{path}{search}", web.base)).bearer_auth(token).send().await.unwrap();
    let url = format!("GET {path} {query:?}");
    verdict(schemas, op, path, url, r, validated).await
}

/// A POST's verdict, `body` sent as it is with the content type given (`None`: no header).
#[allow(clippy::too_many_arguments)]
async fn ask_post(
    web: &Web,
    schemas: &mut Schemas,
    op: &Value,
    path: &str,
    body: &str,
    content_type: Option<&str>,
    token: &str,
    validated: &mut BTreeMap<String, usize>,
) -> Vec<String> {
    let mut request = web.client.post(format!("{}{path}", web.base)).bearer_auth(token).body(body.to_string());
    if let Some(c) = content_type {
        request = request.header(reqwest::header::CONTENT_TYPE, c);
    }
    let r = request.send().await.unwrap();
    let url = format!("POST {path} {}", body.chars().take(120).collect::<String>());
    verdict(schemas, op, path, url, r, validated).await
}

/// What is wrong with one answer: a 5xx, an undocumented status, an answer that is not JSON or
/// does not match the schema documented for its status.
async fn verdict(
    schemas: &mut Schemas,
    op: &Value,
    path: &str,
    url: String,
    r: reqwest::Response,
    validated: &mut BTreeMap<String, usize>,
) -> Vec<String> {
    let status = r.status();
    let json = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    let text = r.text().await.unwrap();
    let mut wrong = Vec::new();
    if status.is_server_error() {
        wrong.push(format!("{url}: {status}: {}", text.chars().take(300).collect::<String>()));
        return wrong;
    }
    let documented = &op["responses"][status.as_str()];
    if !documented.is_object() {
        wrong.push(format!("{url}: status {status} is not documented"));
        return wrong;
    }
    // Every answer of the API is JSON, a refused parameter too (`offset=abc`: a Chinese
    // `ErrorBody`, not axum's English plain text).
    if !json {
        wrong.push(format!("{url}: {status} but not JSON: {}", text.chars().take(200).collect::<String>()));
        return wrong;
    }
    let answer: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return vec![format!("{url}: {status}: not JSON ({e})")],
    };
    let schema = &documented["content"]["application/json"]["schema"];
    if !schema.is_object() {
        return vec![format!("{url}: {status} answers JSON but documents no schema")];
    }
    let key = format!("{} {}", op["operationId"], status.as_str());
    for e in schemas.check(&key, schema, &answer) {
        wrong.push(format!("{url}: {status}: {e}"));
    }
    if status.is_success() && wrong.is_empty() {
        *validated.entry(op["operationId"].as_str().unwrap_or(path).to_string()).or_default() += 1;
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_generated_requests_as_documented_on_sqlite() {
    generated_requests(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_generated_requests_as_documented_on_postgres() {
    generated_requests(true).await;
}

async fn generated_requests(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut settings = Settings::load(&two_departments_config(root)).unwrap_or_else(|e| panic!("{e}"));
    let mut database = None;
    if postgres {
        let (url, name) = fresh_postgres().await;
        settings.gateway.database_url = url;
        database = Some(name);
    }
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    // Penalties with bad rows (problems, publicity) and licences of another department.
    let file = root.join("penalties.csv");
    sample(&file, SampleItem::Penalties, 40, 0.2, SampleFormat::Csv);
    let opts = IngestOptions { report_path: None, progress: false, clock: Clock::real(), source: None };
    let summary = ingest_file(&settings, &store, "market-penalties", &file, &opts).await.unwrap();
    assert!(summary.accepted > 0 && summary.rejected > 0, "{summary:?}");
    ingest_sample(&settings, &store, root, "tax-licences", SampleItem::Licences, 20).await;
    let now = chrono::Utc::now();
    let mut tokens = Vec::new();
    for (name, role, department) in
        [("ops", "ops", None), ("admin", "admin", None), ("clerk", "department", Some("market"))]
    {
        let user = auth::add_user(&store, &settings.departments, name, role, department, Some("口令-123"), now);
        tokens.push(user.await.unwrap().api_token);
    }
    let ops = tokens[0].clone();
    let web = Web::serve(&settings, &store).await;
    let doc = web.json("/api/v1/openapi.json", &ops).await;
    let mut schemas = Schemas::new(&doc);
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{path}: no operationId"));
            assert!(ids.insert(id.to_string()), "{path}: operationId {id} twice");
        }
    }
    let mut wrong: Vec<String> = Vec::new();

    // An objection, so the objections answers hold a case; its answer is checked too.
    let post = &doc["paths"]["/api/v1/objections"]["post"];
    let case = json!({"record_id": 1, "ground": "信息错误", "applicant": "张三丰", "text": "名称有误"});
    let r = web.post_json("/api/v1/objections", &ops, &case).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    wrong.extend(schemas.check(
        "create 201",
        &post["responses"]["201"]["content"]["application/json"]["schema"],
        &created,
    ));

    // The checks see a key no schema names, at the top and inside a flattened row.
    let mut extra = created.clone();
    extra["unexpected"] = json!(1);
    let created_schema = &post["responses"]["201"]["content"]["application/json"]["schema"];
    assert!(!schemas.check("create 201", created_schema, &extra).is_empty(), "an unknown key passed");
    let deadlines =
        &doc["paths"]["/api/v1/deadlines"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    let mut page = web.json("/api/v1/deadlines?status=all&limit=2", &ops).await;
    assert!(schemas.check("deadlines 200", deadlines, &page).is_empty());
    page["rows"][0]["unexpected"] = json!(1);
    assert!(!schemas.check("deadlines 200", deadlines, &page).is_empty(), "an unknown key in a row passed");
    page["rows"][0].as_object_mut().unwrap().remove("unexpected");
    page["rows"][0].as_object_mut().unwrap().remove("status");
    assert!(!schemas.check("deadlines 200", deadlines, &page).is_empty(), "a row without its status passed");

    // Real values for the path parameters.
    let rows = web.json("/api/v1/deadlines?status=all&limit=5", &ops).await;
    let rows = rows["rows"].as_array().unwrap().clone();
    let mut known: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    known.insert("/api/v1/records/", rows.iter().map(|r| r["id"].to_string()).collect());
    known.insert(
        "/api/v1/subjects/",
        rows.iter().filter_map(|r| r["credit_code"].as_str().map(str::to_string)).collect(),
    );
    known.insert("/api/v1/objections/", vec![created["id"].to_string()]);
    assert!(known.values().all(|v| !v.is_empty()), "{known:?}");

    let mut validated: BTreeMap<String, usize> = BTreeMap::new();
    let mut gets = 0;
    let mut asked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else { continue };
        gets += 1;
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let (in_path, in_query): (Vec<Value>, Vec<Value>) = params.into_iter().partition(|p| p["in"] == "path");
        // The paths to ask: real values, then odd ones.
        let mut paths = vec![path.clone()];
        if let Some(p) = in_path.first() {
            let name = p["name"].as_str().unwrap();
            let prefix = path.split('{').next().unwrap();
            let mut values = known.get(prefix).cloned().unwrap_or_default();
            values.extend(
                ["0", "-1", "abc", "1.5", "99999999999999999999", "中", "..", " ", "9111", "\u{0}", "a\u{0}b"]
                    .map(String::from),
            );
            paths = values.iter().map(|v| path.replace(&format!("{{{name}}}"), &segment(v))).collect();
            assert_eq!(in_path.len(), 1, "{path}: one path parameter expected");
        }
        for token in &tokens {
            for p in &paths {
                wrong.extend(ask(&web, &mut schemas, op, p, &[], token, &mut validated).await);
                asked += 1;
            }
            let p = &paths[0];
            for param in &in_query {
                let name = param["name"].as_str().unwrap();
                let mut values = described_values(param);
                values.extend(odd_values());
                for value in &values {
                    wrong.extend(ask(&web, &mut schemas, op, p, &[(name, value)], token, &mut validated).await);
                    asked += 1;
                }
            }
            // Every parameter at once, at the first word its description names.
            let all: Vec<(String, String)> = in_query
                .iter()
                .filter_map(|q| Some((q["name"].as_str()?.to_string(), described_values(q).into_iter().next()?)))
                .collect();
            let all: Vec<(&str, &str)> = all.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            wrong.extend(ask(&web, &mut schemas, op, p, &all, token, &mut validated).await);
            asked += 1;
        }
    }
    // Every POST operation, with bodies generated from its request schema: a valid one, each
    // property odd (strange strings, wrong types, null) or left out, an unknown key, bodies that
    // are no object or no JSON at all, no content type and a form's; a case of its own for each
    // step of a case (answered first where the step needs it), and odd ids.
    let mut posts = 0;
    let record_id = rows[0]["id"].as_i64().unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("post") else { continue };
        posts += 1;
        let schema = resolve(&doc, &op["requestBody"]["content"]["application/json"]["schema"]);
        let bodies = generated_bodies(&schema, record_id);
        let mut paths = vec![path.clone()];
        if path.contains('{') {
            let case = web
                .post_json(
                    "/api/v1/objections",
                    &ops,
                    &json!({"record_id": record_id, "ground": "信息错误", "applicant": "李四", "text": "待核"}),
                )
                .await;
            assert_eq!(case.status(), StatusCode::CREATED);
            let id = case.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
            let earlier: &[(&str, Value)] = if path.ends_with("/close") {
                &[("answer", json!({"upheld": false, "text": "经核查信息无误"})), ("reply", json!({"text": "已告知"}))]
            } else if path.ends_with("/reply") {
                &[("answer", json!({"upheld": false, "text": "经核查信息无误"}))]
            } else {
                &[]
            };
            for (step, body) in earlier {
                let r = web.post_json(&format!("/api/v1/objections/{id}/{step}"), &ops, body).await;
                assert!(r.status().is_success(), "{step}: {}", r.status());
            }
            let real = path.replace("{id}", &id.to_string());
            paths = std::iter::once(real)
                .chain(
                    ["0", "-1", "abc", "99999999999999999999", "中", " ", "\u{0}"]
                        .iter()
                        .map(|v| path.replace("{id}", &segment(v))),
                )
                .collect();
        }
        for token in &tokens {
            for p in &paths {
                for body in &bodies {
                    let json_type = Some("application/json");
                    wrong.extend(ask_post(&web, &mut schemas, op, p, body, json_type, token, &mut validated).await);
                    asked += 1;
                }
            }
            let p = &paths[0];
            for (body, content_type) in [
                (bodies[0].as_str(), None),
                ("a=b&c=%FF", Some("application/x-www-form-urlencoded")),
                (bodies[0].as_str(), Some("text/plain")),
            ] {
                wrong.extend(ask_post(&web, &mut schemas, op, p, body, content_type, token, &mut validated).await);
                asked += 1;
            }
        }
    }
    assert!(posts >= 4, "only {posts} POST operations in the document");
    assert!(gets >= 13, "only {gets} GET operations in the document");
    wrong.dedup();
    // The kinds of mistake: operation and what is wrong, without the values asked.
    let kinds: BTreeSet<String> = wrong
        .iter()
        .map(|w| {
            let path = w.split(' ').nth(1).unwrap_or("");
            let what = w.rsplit_once(": at ").map_or(w.as_str(), |(_, e)| e);
            format!("{path}: {}", what.chars().take(200).collect::<String>())
        })
        .collect();
    let first: Vec<String> = wrong.iter().take(10).map(|w| w.chars().take(400).collect()).collect();
    assert!(
        wrong.is_empty(),
        "{} of {asked} answers are wrong:\n{}\n\nthe first ones:\n{}",
        wrong.len(),
        kinds.into_iter().take(40).collect::<Vec<_>>().join("\n"),
        first.join("\n")
    );
    // Every GET operation answered 200 at least once, and those answers were checked.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(validated.get(id).is_some_and(|n| *n > 0), "{method} {path}: no 2xx answer was validated");
        }
    }
    store.close().await;
    if let Some(name) = database {
        drop_postgres(&name).await;
    }
}
