//! Pod Security admission for what we deploy. Each namespace under `k8s-runner/` names the Pod
//! Security Standard its pods meet (`pod-security.kubernetes.io/enforce`), and the pods placed
//! there are checked against that level as the admission controller checks them: the runner
//! manager's pod built from `k8s-runner/values.yaml` the way the gitlab-runner chart's deployment
//! template (0.86.0) builds it, the job pods built from the runner's TOML the way the Kubernetes
//! executor builds them, and the webhook's Deployment as kustomize renders it.
//!
//! The rules are the "Baseline" and "Restricted" policies of the Kubernetes Pod Security
//! Standards (https://kubernetes.io/docs/concepts/security/pod-security-standards/), implemented
//! in [`violations`] for the pod and container fields they name (annotations aside: our pods set
//! none of the legacy AppArmor ones). Every rule is shown refusing a pod that breaks it, and the
//! manager's pod from the chart's defaults alone (our values before the fix) is refused.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::ship_k8s::{chart_values, kubernetes_validate, our_values, rendered_kustomization, repo, runner_config};

/// A Pod Security Standard, as `pod-security.kubernetes.io/enforce` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Baseline,
    Restricted,
}

impl Level {
    fn from_label(label: &str) -> Self {
        match label {
            "baseline" => Self::Baseline,
            "restricted" => Self::Restricted,
            other => panic!("a namespace enforces `{other}`: our pods are held to baseline or restricted"),
        }
    }
}

/// Baseline, "Capabilities": what a container may add.
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];
/// Baseline, "Sysctls": the safe set.
const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
/// Baseline, "SELinux": the types a pod or container may ask for.
const SELINUX_TYPES: [&str; 4] = ["container_t", "container_init_t", "container_kvm_t", "container_engine_t"];
/// Restricted, "Volume Types": the only volume sources allowed.
const RESTRICTED_VOLUMES: [&str; 8] =
    ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

fn items(value: &Value) -> &[Value] {
    value.as_array().map_or(&[][..], Vec::as_slice)
}

/// Every container of the pod: init, regular and ephemeral.
fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"].into_iter().flat_map(|list| items(&pod[list]))
}

/// What the Pod Security Standard `level` refuses in the pod spec `pod`, one line per breach;
/// empty when the pod is admitted.
fn violations(level: Level, pod: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let pod_context = &pod["securityContext"];
    // Baseline: host namespaces, HostProcess, hostPath volumes, sysctls; then per container.
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[host] == true {
            found.push(format!("`{host}` is true"));
        }
    }
    let contexts = std::iter::once(("the pod".to_owned(), pod_context)).chain(containers(pod).map(|container| {
        (format!("container `{}`", container["name"].as_str().unwrap_or("?")), &container["securityContext"])
    }));
    for (who, context) in contexts {
        if context["windowsOptions"]["hostProcess"] == true {
            found.push(format!("{who} is a Windows HostProcess"));
        }
        if context["seccompProfile"]["type"] == "Unconfined" {
            found.push(format!("{who} sets seccomp `Unconfined`"));
        }
        if let Some(kind) = context["appArmorProfile"]["type"].as_str().filter(|kind| *kind == "Unconfined") {
            found.push(format!("{who} sets AppArmor `{kind}`"));
        }
        let selinux = &context["seLinuxOptions"];
        if let Some(kind) = selinux["type"].as_str().filter(|kind| !SELINUX_TYPES.contains(kind)) {
            found.push(format!("{who} sets SELinux type `{kind}`"));
        }
        if !selinux["user"].is_null() || !selinux["role"].is_null() {
            found.push(format!("{who} sets an SELinux user or role"));
        }
    }
    for sysctl in items(&pod_context["sysctls"]) {
        let name = sysctl["name"].as_str().unwrap_or_default();
        if !SAFE_SYSCTLS.contains(&name) {
            found.push(format!("sysctl `{name}` is not in the safe set"));
        }
    }
    for volume in items(&pod["volumes"]) {
        if volume.get("hostPath").is_some() {
            found.push(format!("volume `{}` is a hostPath", volume["name"]));
        }
    }
    for container in containers(pod) {
        let name = container["name"].as_str().unwrap_or("?");
        let context = &container["securityContext"];
        if context["privileged"] == true {
            found.push(format!("container `{name}` is privileged"));
        }
        for added in items(&context["capabilities"]["add"]).iter().filter_map(Value::as_str) {
            if !BASELINE_CAPABILITIES.contains(&added) {
                found.push(format!("container `{name}` adds capability `{added}`"));
            }
        }
        if context["procMount"].as_str().is_some_and(|mount| mount != "Default") {
            found.push(format!("container `{name}` sets a non-default procMount"));
        }
        for port in items(&container["ports"]) {
            if port["hostPort"].as_u64().is_some_and(|host_port| host_port != 0) {
                found.push(format!("container `{name}` uses a host port"));
            }
        }
    }
    if level == Level::Baseline {
        return found;
    }
    // Restricted: volume types, privilege escalation, non-root, seccomp, capabilities.
    for volume in items(&pod["volumes"]) {
        let source = volume.as_object().and_then(|fields| fields.keys().find(|key| *key != "name"));
        if !source.is_some_and(|source| RESTRICTED_VOLUMES.contains(&source.as_str())) {
            found.push(format!("volume `{}` is of a type restricted forbids: {source:?}", volume["name"]));
        }
    }
    if pod_context["runAsUser"] == 0 {
        found.push("the pod runs as uid 0".to_owned());
    }
    for container in containers(pod) {
        let name = container["name"].as_str().unwrap_or("?");
        let context = &container["securityContext"];
        if context["allowPrivilegeEscalation"] != false {
            found.push(format!("container `{name}` does not set `allowPrivilegeEscalation: false`"));
        }
        // A container's own setting wins over the pod's.
        let effective =
            |field: &str| context.get(field).filter(|value| !value.is_null()).unwrap_or(&pod_context[field]);
        if effective("runAsNonRoot") != true {
            found.push(format!("container `{name}` is not `runAsNonRoot: true`"));
        }
        if context["runAsUser"] == 0 {
            found.push(format!("container `{name}` runs as uid 0"));
        }
        let seccomp = effective("seccompProfile")["type"].as_str();
        if !seccomp.is_some_and(|kind| kind == "RuntimeDefault" || kind == "Localhost") {
            found.push(format!("container `{name}` has no seccomp profile `RuntimeDefault` or `Localhost`"));
        }
        let capabilities = &context["capabilities"];
        if !items(&capabilities["drop"]).iter().any(|dropped| dropped == "ALL") {
            found.push(format!("container `{name}` does not drop `ALL` capabilities"));
        }
        for added in items(&capabilities["add"]).iter().filter_map(Value::as_str) {
            if added != "NET_BIND_SERVICE" {
                found.push(format!("container `{name}` adds `{added}` (restricted allows only NET_BIND_SERVICE)"));
            }
        }
    }
    found
}

/// Helm's merge of user values over a chart's: maps merge key by key, anything else replaces.
fn helm_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => helm_merge(existing, value),
                    Some(existing) => *existing = value.clone(),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// The runner manager's Deployment as the chart's `templates/deployment.yaml` (0.86.0) builds it
/// from `values` (merged over the chart's defaults), kept to what Pod Security admission and
/// `kubernetes-validate` read: the pod's `securityContext: {{ toYaml .Values.podSecurityContext
/// }}`, its one container (no init container) with `securityContext: {{ toYaml
/// .Values.securityContext }}` and `resources`, and the volumes the template adds: the `emptyDir`s
/// `runner-secrets` and `etc-gitlab-runner`, the `projected` runner and cache secrets (with
/// `runners.secret`), the `configMap` `configmaps`, then `.Values.volumes`.
fn manager_deployment(values: &Value) -> Value {
    let (_, mut merged) = chart_values();
    helm_merge(&mut merged, values);
    let mut volumes = vec![
        json!({"name": "runner-secrets", "emptyDir": {"medium": "Memory"}}),
        json!({"name": "etc-gitlab-runner", "emptyDir": {"medium": "Memory"}}),
    ];
    let mut sources = Vec::new();
    if let Some(cache) = merged["runners"]["cache"]["secretName"].as_str() {
        sources.push(json!({"secret": {"name": cache}}));
    }
    if let Some(runner) = merged["runners"]["secret"].as_str() {
        sources.push(json!({"secret": {"name": runner, "items": [
            {"key": "runner-registration-token", "path": "runner-registration-token"},
            {"key": "runner-token", "path": "runner-token"},
        ]}}));
    }
    if !sources.is_empty() {
        volumes.push(json!({"name": "projected-secrets", "projected": {"sources": sources}}));
    }
    volumes.push(json!({"name": "configmaps", "configMap": {"name": "gitlab-runner"}}));
    volumes.extend(items(&merged["volumes"]).iter().cloned());
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "gitlab-runner", "namespace": "copilot-runner"},
        "spec": {
            "selector": {"matchLabels": {"app": "gitlab-runner"}},
            "template": {
                "metadata": {"labels": {"app": "gitlab-runner"}},
                "spec": {
                    "securityContext": merged["podSecurityContext"],
                    "serviceAccountName": merged["serviceAccount"]["name"],
                    "containers": [{
                        "name": "gitlab-runner",
                        "image": "registry.gitlab.com/gitlab-org/gitlab-runner:alpine-v18.9.0",
                        "securityContext": merged["securityContext"],
                        "resources": merged["resources"],
                    }],
                    "volumes": volumes,
                    "nodeSelector": merged["nodeSelector"],
                },
            },
        },
    })
}

/// A TOML table of the runner's config as the Kubernetes API spells it (`run_as_non_root` →
/// `runAsNonRoot`), the way the executor maps its security context keys.
fn camel_case(value: &toml::Value) -> Value {
    match value {
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| {
                    let mut words = key.split('_');
                    let mut name = words.next().unwrap_or_default().to_owned();
                    for word in words {
                        let mut letters = word.chars();
                        name.extend(letters.next().map(|first| first.to_ascii_uppercase()));
                        name.push_str(letters.as_str());
                    }
                    (name, camel_case(value))
                })
                .collect(),
        ),
        toml::Value::Array(values) => Value::Array(values.iter().map(camel_case).collect()),
        toml::Value::String(text) => Value::from(text.as_str()),
        toml::Value::Integer(number) => Value::from(*number),
        toml::Value::Boolean(flag) => Value::from(*flag),
        toml::Value::Float(number) => Value::from(*number),
        toml::Value::Datetime(datetime) => Value::from(datetime.to_string()),
    }
}

/// A job pod as gitlab-runner's Kubernetes executor builds it from `[runners.kubernetes]`, kept
/// to what admission reads: `pod_security_context` becomes the pod's `securityContext`,
/// `build_container_security_context` the `build` container's and
/// `helper_container_security_context` the `helper` container's (the table's own `privileged`
/// and `allow_privilege_escalation` fill what a context leaves unset), and the executor's own
/// `emptyDir` volumes for the checkout, the scripts and the logs.
fn job_pod(kubernetes: &toml::Table) -> Value {
    let table = |key: &str| kubernetes.get(key).map_or(json!({}), camel_case);
    let container = |name: &str, key: &str| {
        let mut context = table(key);
        for (toml_key, field) in
            [("privileged", "privileged"), ("allow_privilege_escalation", "allowPrivilegeEscalation")]
        {
            if let (Some(value), Some(fields)) = (kubernetes.get(toml_key), context.as_object_mut()) {
                fields.entry(field).or_insert_with(|| camel_case(value));
            }
        }
        json!({"name": name, "image": kubernetes["image"].as_str(), "securityContext": context})
    };
    json!({
        "securityContext": table("pod_security_context"),
        "containers": [
            container("build", "build_container_security_context"),
            container("helper", "helper_container_security_context"),
        ],
        "volumes": [
            {"name": "repo", "emptyDir": {}},
            {"name": "scripts", "emptyDir": {}},
            {"name": "logs", "emptyDir": {}},
        ],
    })
}

fn documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join(path)).unwrap_or_else(|_| panic!("{path} is readable"));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|error| panic!("{path} is YAML: {error}"))
}

/// The level each of our namespaces enforces, by name.
fn enforced(name: &str) -> Level {
    let mut namespaces = documents("k8s-runner/namespaces.yaml");
    namespaces.extend(documents("k8s-runner/webhook/namespace.yaml"));
    let namespace = namespaces
        .iter()
        .find(|object| object["kind"] == "Namespace" && object["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Namespace `{name}` in k8s-runner"));
    Level::from_label(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].as_str().expect("an enforced level"),
    )
}

fn validate_strictly(object: &Value) {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let file: PathBuf = dir.path().join("object.yaml");
    std::fs::write(&file, serde_json::to_string(object).expect("JSON")).expect("a scratch file");
    let output = kubernetes_validate(std::slice::from_ref(&file));
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && report.contains(" passed "), "kubernetes-validate --strict failed:\n{report}");
}

#[test]
fn runner_manager_jobs_and_webhook_each_have_a_namespace_labelled_with_the_level_its_pods_meet() {
    let values = our_values();
    let job_namespace = values["runners"]["jobNamespace"].as_str().expect("`runners.jobNamespace`");
    let kustomization = documents("k8s-runner/webhook/kustomization.yaml");
    let webhook_namespace = kustomization[0]["namespace"].as_str().expect("the kustomization's namespace");
    // The runner manager's namespace is the release's: `helm install --namespace copilot-runner`.
    let names = ["copilot-runner", job_namespace, webhook_namespace];
    assert_eq!(names, ["copilot-runner", "copilot-jobs", "copilot-webhook"], "three namespaces, apart");
    assert_eq!(enforced("copilot-runner"), Level::Restricted);
    assert_eq!(enforced("copilot-jobs"), Level::Baseline);
    assert_eq!(enforced("copilot-webhook"), Level::Restricted);
    let output = kubernetes_validate(&[repo().join("k8s-runner/namespaces.yaml")]);
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && report.matches(" passed ").count() == 2, "{report}");
}

#[test]
fn the_runner_manager_pod_built_from_our_values_is_admitted_as_restricted() {
    let deployment = manager_deployment(&our_values());
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(violations(enforced("copilot-runner"), pod), Vec::<String>::new(), "{pod:#}");
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    // Every field we put in the two contexts is a real Kubernetes field.
    validate_strictly(&deployment);
}

#[test]
fn the_runner_manager_pod_from_the_chart_defaults_alone_is_refused_as_restricted() {
    // Our values before the fix: no `podSecurityContext` and no `securityContext` of our own, so
    // the chart's defaults apply and the pod has no seccomp profile.
    let mut old = our_values();
    let fields = old.as_object_mut().expect("values are a map");
    assert!(fields.remove("podSecurityContext").is_some() && fields.remove("securityContext").is_some());
    let deployment = manager_deployment(&old);
    let pod = &deployment["spec"]["template"]["spec"];
    let refused = violations(Level::Restricted, pod);
    assert!(
        refused.iter().any(|line| line.contains("seccomp")),
        "the chart's defaults lack the seccomp profile restricted needs: {refused:?}"
    );
    assert_eq!(violations(Level::Baseline, pod), Vec::<String>::new(), "baseline admits it");
}

/// A breach of one rule: what the refusal says, how to break an admitted pod, the level that
/// refuses it.
type Breach = (&'static str, fn(&mut Value), Level);

#[test]
fn each_rule_refuses_a_pod_that_breaks_it() {
    let admitted = manager_deployment(&our_values())["spec"]["template"]["spec"].clone();
    let breaches: [Breach; 11] = [
        ("privileged", |pod| pod["containers"][0]["securityContext"]["privileged"] = json!(true), Level::Baseline),
        ("hostNetwork", |pod| pod["hostNetwork"] = json!(true), Level::Baseline),
        ("hostPath", |pod| pod["volumes"][0] = json!({"name": "host", "hostPath": {"path": "/"}}), Level::Baseline),
        (
            "SYS_ADMIN",
            |pod| pod["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["SYS_ADMIN"]),
            Level::Baseline,
        ),
        ("Unconfined", |pod| pod["securityContext"]["seccompProfile"]["type"] = json!("Unconfined"), Level::Baseline),
        (
            "sysctl",
            |pod| pod["securityContext"]["sysctls"] = json!([{"name": "kernel.msgmax", "value": "1"}]),
            Level::Baseline,
        ),
        (
            "allowPrivilegeEscalation",
            |pod| pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true),
            Level::Restricted,
        ),
        (
            "runAsNonRoot",
            |pod| pod["containers"][0]["securityContext"]["runAsNonRoot"] = json!(false),
            Level::Restricted,
        ),
        ("uid 0", |pod| pod["securityContext"]["runAsUser"] = json!(0), Level::Restricted),
        (
            "drop `ALL`",
            |pod| pod["containers"][0]["securityContext"]["capabilities"]["drop"] = json!([]),
            Level::Restricted,
        ),
        (
            "of a type",
            |pod| pod["volumes"][0] = json!({"name": "nfs", "nfs": {"server": "x", "path": "/"}}),
            Level::Restricted,
        ),
    ];
    for (breach, change, level) in breaches {
        let mut pod = admitted.clone();
        change(&mut pod);
        let refused = violations(level, &pod);
        assert!(
            refused.iter().any(|line| line.contains(breach)),
            "{level:?} admitted a pod with {breach}: {refused:?}"
        );
        if level == Level::Restricted {
            assert!(violations(Level::Baseline, &pod).is_empty(), "baseline does not ask for {breach}");
        }
    }
}

#[test]
fn job_pods_built_from_the_runner_toml_are_admitted_by_the_job_namespace() {
    let config = runner_config();
    let kubernetes = config["runners"][0]["kubernetes"].as_table().expect("`[runners.kubernetes]`");
    let pod = job_pod(kubernetes);
    assert_eq!(violations(enforced("copilot-jobs"), &pod), Vec::<String>::new(), "{pod:#}");
    // Everything restricted asks for but the seccomp profile, which no runner key sets.
    let short_of_restricted = violations(Level::Restricted, &pod);
    assert!(!short_of_restricted.is_empty(), "the job namespace could enforce restricted: {pod:#}");
    assert!(short_of_restricted.iter().all(|line| line.contains("seccomp")), "{short_of_restricted:?}");

    // The same check refuses a privileged job pod.
    let mut privileged = kubernetes.clone();
    privileged.insert("privileged".to_owned(), toml::Value::Boolean(true));
    privileged.remove("build_container_security_context");
    let refused = violations(Level::Baseline, &job_pod(&privileged));
    assert!(refused.iter().any(|line| line.contains("`build` is privileged")), "{refused:?}");
}

#[test]
fn the_webhook_pods_are_admitted_by_their_namespace() {
    let objects = rendered_kustomization();
    let deployment = objects.iter().find(|object| object["kind"] == "Deployment").expect("the webhook Deployment");
    let namespace = deployment["metadata"]["namespace"].as_str().expect("a namespace");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(violations(enforced(namespace), pod), Vec::<String>::new(), "{pod:#}");
}
