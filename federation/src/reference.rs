//! The configuration reference (`docs/configuration.md`), generated from the three binaries' config
//! structs and their doc comments (through `schemars`), so it cannot drift: the test fails when the
//! committed file differs from what the structs give. `UPDATE_CONFIG_REFERENCE=1 cargo test -p
//! federation reference` writes it again.

use serde_json::{Map, Value};

/// One row: the field's dotted name, its type, its default, and what it is.
struct Row {
    name: String,
    kind: String,
    default: String,
    about: String,
}

/// The definition a `$ref` names, or the schema itself.
fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| root["$defs"].get(name))
            .unwrap_or(schema),
        None => schema,
    }
}

/// A short type name for a property's schema.
fn kind(schema: &Value, root: &Value) -> String {
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let kinds: Vec<String> = any
            .iter()
            .filter(|s| s.get("type") != Some(&Value::from("null")))
            .map(|s| kind(s, root))
            .collect();
        return format!("{} (optional)", kinds.join(" or "));
    }
    let target = resolve(schema, root);
    if let Some(values) = target.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("`{v}`"))
            .collect();
        return names.join(", ");
    }
    if let Some(one) = target.get("oneOf").and_then(Value::as_array) {
        let names: Vec<String> = one
            .iter()
            .filter_map(|s| s.get("const").and_then(Value::as_str).map(|v| format!("`{v}`")))
            .collect();
        if !names.is_empty() {
            return names.join(", ");
        }
    }
    let types: Vec<&str> = match target.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
        _ => Vec::new(),
    };
    match types.first().copied() {
        Some("array") => {
            let items = target.get("items").map(|i| resolve(i, root));
            match items.and_then(|i| i.get("properties")).and_then(Value::as_object) {
                Some(props) => format!("list of {{{}}}", props.keys().cloned().collect::<Vec<_>>().join(", ")),
                None => format!("list of {}", items.map(|i| kind(i, root)).unwrap_or_default()),
            }
        }
        Some("object") => match target.get("properties").and_then(Value::as_object) {
            Some(props) => format!("{{{}}}", props.keys().cloned().collect::<Vec<_>>().join(", ")),
            None => "table".into(),
        },
        Some(t) => t.to_string(),
        None => "value".into(),
    }
}

/// A default value as the reference shows it.
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".into(),
        Some(Value::String(s)) if s.is_empty() => "\"\"".into(),
        Some(Value::Array(a)) if a.is_empty() => "[]".into(),
        Some(v) => format!("`{v}`"),
    }
}

/// The rows of an object schema, nested tables (`tls`, `telemetry`, …) flattened as `table.field`.
fn rows(schema: &Value, root: &Value, defaults: Option<&Map<String, Value>>, prefix: &str, out: &mut Vec<Row>) {
    let schema = resolve(schema, root);
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, prop) in props {
        let target = resolve(prop, root);
        let default = defaults.and_then(|d| d.get(name));
        let nested = target.get("properties").is_some() && prop.get("$ref").is_some();
        if nested {
            rows(
                prop,
                root,
                default.and_then(Value::as_object),
                &format!("{prefix}{name}."),
                out,
            );
            continue;
        }
        let about = prop
            .get("description")
            .or_else(|| target.get("description"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace('\n', " ")
            .replace('|', "\\|");
        let default = if defaults.is_some() {
            shown(default)
        } else if required.contains(&name.as_str()) {
            "required".into()
        } else {
            shown(prop.get("default"))
        };
        out.push(Row {
            name: format!("{prefix}{name}"),
            kind: kind(prop, root),
            default,
            about,
        });
    }
}

fn table(title: &str, intro: &str, schema: Value, defaults: Option<Value>) -> String {
    let mut out = Vec::new();
    rows(
        &schema,
        &schema,
        defaults.as_ref().and_then(Value::as_object),
        "",
        &mut out,
    );
    let mut text = format!("## {title}\n\n{intro}\n\n| field | type | default | what |\n| --- | --- | --- | --- |\n");
    for row in out {
        text.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            row.name, row.kind, row.default, row.about
        ));
    }
    text
}

/// The whole reference.
fn reference() -> String {
    let hub = table(
        "hub",
        "`hub --config hub.toml --listen ADDR`: a TOML file, then `HUB_<FIELD>` environment variables (nested \
         fields with a double underscore: `HUB_TLS__CERT_FILE`, `HUB_TELEMETRY__LOG_FORMAT`). Unknown fields are \
         errors. Tables (`tls`, `telemetry`, `auditor`) are written `[tls]` in the file.",
        serde_json::to_value(schemars::schema_for!(hub::Config)).unwrap_or_default(),
        serde_json::to_value(hub::Config::default()).ok(),
    );
    let stub = table(
        "idp-stub",
        "`idp-stub --config idp-stub.toml --listen ADDR`: a TOML file; `--base-url`, `--keys-dir`, \
         `--non-interactive`, `--test-endpoints`, `--log-format` and `--otlp-endpoint` override it.",
        serde_json::to_value(schemars::schema_for!(idp_stub::Config)).unwrap_or_default(),
        None,
    );
    let rp = table(
        "rp-example",
        "`rp-example` is set by flags and `RP_EXAMPLE_*` variables (`rp-example --help`), which fill these \
         fields.",
        serde_json::to_value(schemars::schema_for!(rp_example::Config)).unwrap_or_default(),
        serde_json::to_value(rp_example::Config::default()).ok(),
    );
    format!(
        "# Configuration reference\n\nGenerated from the configuration structs and their doc comments by \
         `federation/src/reference.rs`; do not edit by hand. After changing a field, run \
         `UPDATE_CONFIG_REFERENCE=1 cargo test -p federation reference` (the test fails while this file \
         differs from the structs).\n\n{hub}\n{stub}\n{rp}"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_configuration_reference_is_what_the_structs_give() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
        let generated = reference();
        for field in [
            "`issuer`",
            "`tls.cert_file`",
            "`telemetry.otlp_endpoint`",
            "`adopt_trace_context`",
        ] {
            assert!(generated.contains(field), "{field} missing from the reference");
        }
        if std::env::var_os("UPDATE_CONFIG_REFERENCE").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/configuration.md differs from the config structs: run \
             `UPDATE_CONFIG_REFERENCE=1 cargo test -p federation reference` and commit it"
        );
    }
}
