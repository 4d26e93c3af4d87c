//! Checks of `deploy/`: the Prometheus alert rules load in `promtool check rules` (where Prometheus's
//! tools are installed; `.ci/run` installs them), every alert has its runbook entry in
//! `docs/operations.md`, and every metric the rules and the Grafana dashboard read is one the hub
//! exports, so a renamed metric cannot leave an alert that never fires.

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Every `hub_…` metric name in `text`, histogram suffixes taken off.
    fn metrics_in(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(at) = text[i..].find("hub_") {
            let start = i + at;
            let mut end = start;
            while end < bytes.len()
                && (bytes[end].is_ascii_lowercase() || bytes[end].is_ascii_digit() || bytes[end] == b'_')
            {
                end += 1;
            }
            let preceded = start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
            if !preceded {
                let name = &text[start..end];
                let name = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                names.push(name.to_string());
            }
            i = end.max(start + 4);
        }
        names
    }

    /// The hub's sources, concatenated.
    fn hub_sources() -> String {
        let mut text = String::new();
        let mut dirs = vec![root().join("hub/src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    text.push_str(&std::fs::read_to_string(path).unwrap());
                }
            }
        }
        text
    }

    #[test]
    fn alert_rules_load_have_runbooks_and_read_only_metrics_the_hub_exports() {
        let rules_path = root().join("deploy/prometheus/alerts.yml");
        let rules = std::fs::read_to_string(&rules_path).unwrap();
        let handbook = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
        let sources = hub_sources();

        let alerts: Vec<&str> = rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- alert: "))
            .collect();
        assert!(alerts.len() >= 10, "{alerts:?}");
        let runbooks: Vec<&str> = rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("runbook_url: \"docs/operations.md#"))
            .map(|l| l.trim_end_matches('"'))
            .collect();
        assert_eq!(alerts.len(), runbooks.len(), "every alert names its runbook");
        for (alert, anchor) in alerts.iter().zip(&runbooks) {
            assert_eq!(alert.to_lowercase(), *anchor, "{alert}'s runbook anchor");
            assert!(
                handbook.contains(&format!("\n### {alert}\n")),
                "docs/operations.md has no runbook entry `### {alert}`"
            );
        }
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root().join("deploy/grafana/hub-dashboard.json")).unwrap())
                .unwrap();
        let exprs: Vec<String> = dashboard["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["targets"].as_array().unwrap().iter())
            .map(|t| t["expr"].as_str().unwrap().to_string())
            .collect();
        assert!(!exprs.is_empty());
        for name in metrics_in(&rules)
            .into_iter()
            .chain(exprs.iter().flat_map(|e| metrics_in(e)))
        {
            assert!(
                sources.contains(&format!("\"{name}\"")),
                "{name} is read by deploy/ but the hub exports no such metric"
            );
        }

        // promtool, where Prometheus's tools are installed.
        if let Ok(out) = std::process::Command::new("promtool")
            .arg("check")
            .arg("rules")
            .arg(&rules_path)
            .output()
        {
            assert!(
                out.status.success(),
                "promtool check rules failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn metric_names_are_found_in_expressions() {
        assert_eq!(
            metrics_in("sum(rate(hub_a_bucket[5m])) / x_hub_b + hub_c_total"),
            vec!["hub_a".to_string(), "hub_c_total".to_string()]
        );
    }
}
