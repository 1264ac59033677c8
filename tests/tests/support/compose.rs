//! A service of `compose/compose.yml` started on this machine the way
//! Docker Compose starts it in its container: the same program and
//! arguments (`entrypoint` then `command`, or the image's entrypoint
//! putting its program in front of a command that starts with an option),
//! the same environment and healthcheck, `${…}` filled in from
//! `compose/.env`'s values and `$$` read as `$`, as Compose does. Each
//! Compose secret the service mounts becomes a file holding the variable's
//! value, as Compose copies it in; each path the container has (a secret,
//! a volume, a tmpfs) is replaced by a file or folder under the test's
//! directory.
//!
//! The programs are found through `PATH`, so a test can put a recording
//! wrapper in front of each ([`recording_wrappers`]): every argument list
//! a program was started with is kept, even when the program rewrites its
//! own command line afterwards (Redis does).
//!
//! Shared by `compose_policy.rs` and `turn_443.rs` (`#[path]`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_norway::Value;

const COMPOSE: &str = include_str!("../../../compose/compose.yml");
const COMPOSE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../compose");

/// What Docker would run for a service, with its paths on this machine.
pub struct Started {
    /// The container's first process: program and arguments.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The healthcheck's program and arguments (`CMD-SHELL` is `sh -c`).
    pub healthcheck: Vec<String>,
}

/// Compose's interpolation: `${NAME}`, `${NAME:-default}`, `$$` for `$`.
fn interpolate(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}').expect("a closed ${…}");
            let (name, default) = match after[..end].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&after[..end], None),
            };
            match (vars.get(name), default) {
                (Some(value), _) => out.push_str(value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => panic!("${{{name}}} has no value in the test's compose/.env"),
            }
            rest = &after[end + 1..];
        } else {
            assert!(
                !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'),
                "unbraced $NAME in compose.yml: Compose would interpolate it"
            );
            out.push('$');
        }
    }
    out.push_str(rest);
    out
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| i.as_str().expect("a string").to_owned())
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `name` of compose.yml as Docker would start it, its paths under `root`.
/// `vars` are compose/.env's values; `image_program` is what the image's
/// entrypoint runs when the command starts with an option (`turnserver`,
/// `redis-server`).
pub fn service(
    name: &str,
    vars: &BTreeMap<String, String>,
    image_program: &str,
    root: &Path,
) -> Started {
    let mut doc: Value = serde_norway::from_str(COMPOSE).expect("compose.yml is YAML");
    doc.apply_merge().expect("merge keys resolve");
    let s = doc["services"][name].clone();
    assert!(s.is_mapping(), "no service {name} in compose.yml");

    // Container path → path here, longest first (a file inside a folder
    // that is mapped too).
    let mut paths: Vec<(String, PathBuf)> = Vec::new();
    for secret in s
        .get("secrets")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let (source, target) = match secret {
            Value::String(source) => (source.clone(), format!("/run/secrets/{source}")),
            long => (
                long["source"].as_str().expect("source").to_owned(),
                long["target"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        format!("/run/secrets/{}", long["source"].as_str().unwrap())
                    }),
            ),
        };
        let variable = doc["secrets"][source.as_str()]["environment"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("secret {source}: the test knows only `environment:` secrets")
            });
        let file = root.join("secrets").join(&source);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &vars[variable]).unwrap();
        paths.push((target, file));
    }
    for volume in s
        .get("volumes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let (source, target) = match volume {
            Value::String(short) => {
                let mut parts = short.split(':');
                (
                    parts.next().unwrap().to_owned(),
                    parts.next().expect("a target").to_owned(),
                )
            }
            long => (
                long["source"].as_str().expect("source").to_owned(),
                long["target"].as_str().expect("target").to_owned(),
            ),
        };
        let here = if source.starts_with('.') {
            Path::new(COMPOSE_DIR).join(source)
        } else {
            let dir = root.join("volumes").join(source);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        };
        paths.push((target, here));
    }
    for tmpfs in strings(s.get("tmpfs")) {
        let target = tmpfs.split(':').next().unwrap().to_owned();
        let dir = root
            .join("tmpfs")
            .join(target.trim_start_matches('/').replace('/', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        paths.push((target, dir));
    }
    paths.sort_by_key(|(target, _)| std::cmp::Reverse(target.len()));
    let here = |text: &str| {
        let mut text = interpolate(text, vars);
        for (target, path) in &paths {
            text = text.replace(target.as_str(), path.to_str().unwrap());
        }
        text
    };

    let command: Vec<String> = strings(s.get("command")).iter().map(|a| here(a)).collect();
    let argv = match s.get("entrypoint") {
        Some(entrypoint) => strings(Some(entrypoint))
            .iter()
            .map(|a| here(a))
            .chain(command)
            .collect(),
        None if command.first().is_some_and(|a| a.starts_with('-')) => {
            std::iter::once(image_program.to_owned())
                .chain(command)
                .collect()
        }
        None => command,
    };
    let env = match s.get("environment") {
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => serde_norway::to_string(other).unwrap().trim().to_owned(),
                };
                (k.as_str().unwrap().to_owned(), here(&v))
            })
            .collect(),
        _ => Vec::new(),
    };
    let test = strings(s["healthcheck"].get("test"));
    let healthcheck = match test.first().map(String::as_str) {
        Some("CMD-SHELL") => vec!["sh".into(), "-c".into(), here(&test[1])],
        Some("CMD") => test[1..].iter().map(|a| here(a)).collect(),
        _ => Vec::new(),
    };
    Started {
        argv,
        env,
        healthcheck,
    }
}

/// A folder to put first on `PATH`: for each `(program, before, after)`, a
/// wrapper that appends the arguments it was given, one start a line, to
/// the returned log, then runs the real program with `before`, those
/// arguments and `after` (what only the test needs: a port, a pid file).
pub fn recording_wrappers(
    root: &Path,
    programs: &[(&str, &[&str], &[&str])],
) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = root.join("bin");
    let log = root.join("argv.log");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(&log, "").unwrap();
    let quote = |args: &[&str]| {
        args.iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (program, before, after) in programs {
        let real = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{program} is not on PATH"));
        let wrapper = bin.join(program);
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho \"{program} $*\" >> '{log}'\nexec '{real}' {before} \"$@\" {after}\n",
                log = log.display(),
                real = real.display(),
                before = quote(before),
                after = quote(after),
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (bin, log)
}

/// `PATH` with `bin` first.
pub fn path_with(bin: &Path) -> std::ffi::OsString {
    let mut dirs = vec![bin.to_owned()];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap()));
    std::env::join_paths(dirs).unwrap()
}

/// A process's command line now, as `ps` shows it.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}
