//! Detection rules as data: the reference file built into the binary
//! (`rules.yaml`, next to this file), an optional operator file on top, both
//! compiled once into one [`regex::bytes::RegexSet`] per field plus one
//! regex per rule group (for the evidence and `unless`).
use std::{fmt, path::Path};

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Deserialize;

/// The reference rules of SPEC §7.
pub const BUILTIN: &str = include_str!("rules.yaml");

/// What a pattern looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Path and query, percent-decoded (and again when still encoded).
    Uri,
    /// Path and query as logged.
    RawUri,
    UserAgent,
    Referer,
}

impl Field {
    pub const ALL: [Self; 4] = [Self::Uri, Self::RawUri, Self::UserAgent, Self::Referer];

    const fn index(self) -> usize {
        match self {
            Self::Uri => 0,
            Self::RawUri => 1,
            Self::UserAgent => 2,
            Self::Referer => 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchSpec {
    #[serde(default)]
    fields: Option<Vec<Field>>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    unless: Vec<String>,
}

/// A per-client window (see `rules.yaml` for the meaning of each kind).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowSpec {
    Requests {
        seconds: u32,
        more_than: u32,
    },
    ErrorRatio {
        seconds: u32,
        at_least: u32,
        more_than: f64,
    },
    FailedLogins {
        seconds: u32,
        more_than: u32,
        #[serde(default = "default_login_statuses")]
        statuses: Vec<u16>,
        path: String,
    },
}

fn default_login_statuses() -> Vec<u16> {
    vec![401, 403]
}

impl WindowSpec {
    #[must_use]
    pub const fn seconds(&self) -> u32 {
        match self {
            Self::Requests { seconds, .. }
            | Self::ErrorRatio { seconds, .. }
            | Self::FailedLogins { seconds, .. } => *seconds,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    score: f64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    fields: Option<Vec<Field>>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    unless: Vec<String>,
    #[serde(default, rename = "match")]
    groups: Vec<MatchSpec>,
    #[serde(default)]
    window: Option<WindowSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: Vec<RuleSpec>,
    #[serde(default)]
    disable: Vec<String>,
}

/// A rules file that cannot be used, and why (naming the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError(pub String);

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RulesError {}

fn err<T>(msg: impl Into<String>) -> Result<T, RulesError> {
    Err(RulesError(msg.into()))
}

/// One rule, as compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// Thousandths: 0.85 is 850.
    pub score: u16,
    pub description: String,
    pub window: Option<Window>,
}

/// A window rule, with its login-path regex compiled.
#[derive(Debug, Clone)]
pub struct Window {
    pub spec: WindowSpec,
    pub path: Option<Regex>,
}

/// One `(fields, patterns, unless)` group of a rule.
#[derive(Debug, Clone)]
pub struct Group {
    pub rule: usize,
    pub regex: Regex,
    pub unless: Option<Regex>,
}

/// The groups looking at one field, and their set.
#[derive(Debug, Clone)]
pub struct FieldSet {
    pub set: RegexSet,
    /// `set` pattern index → group.
    pub groups: Vec<Group>,
}

/// The compiled rules: immutable, shared by every detector.
#[derive(Debug, Clone)]
pub struct Rules {
    pub rules: Vec<Rule>,
    pub fields: [Option<FieldSet>; 4],
}

const DFA_CACHE: usize = 8 << 20;

fn regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .unicode(false)
        .dfa_size_limit(DFA_CACHE)
        .build()
}

fn alternation(patterns: &[String]) -> String {
    patterns
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|")
}

fn valid_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name.as_bytes()[0].is_ascii_uppercase()
        && name
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

fn parse_file(text: &str, origin: &str) -> Result<RulesFile, RulesError> {
    serde_yaml_ng::from_str::<Option<RulesFile>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| RulesError(format!("{origin}: {e}")))
}

impl Rules {
    /// The built-in reference rules.
    ///
    /// # Errors
    /// Never for the shipped file (a test compiles it); the type allows it.
    pub fn builtin() -> Result<Self, RulesError> {
        Self::compile(BUILTIN, None)
    }

    /// The built-in rules with the operator file at `path` on top.
    ///
    /// # Errors
    /// An unreadable file, or any invalid rule (named).
    pub fn load(path: Option<&Path>) -> Result<Self, RulesError> {
        let Some(path) = path else {
            return Self::builtin();
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| RulesError(format!("cannot read rules file {}: {e}", path.display())))?;
        Self::compile(BUILTIN, Some((&text, &path.display().to_string())))
    }

    /// Compiles `base` with `overlay` (text, origin for messages) on top:
    /// same name replaces in place, new names are appended, `disable`
    /// removes.
    ///
    /// # Errors
    /// Invalid YAML, unknown keys, a bad name, score, pattern or window,
    /// a duplicate name within one file, or disabling a rule that does not
    /// exist.
    pub fn compile(base: &str, overlay: Option<(&str, &str)>) -> Result<Self, RulesError> {
        let base = parse_file(base, "built-in rules")?;
        let mut specs = unique(base.rules, "built-in rules")?;
        if !base.disable.is_empty() {
            return err("built-in rules: `disable` belongs in an operator file");
        }
        if let Some((text, origin)) = overlay {
            let over = parse_file(text, origin)?;
            for rule in unique(over.rules, origin)? {
                match specs.iter_mut().find(|r| r.name == rule.name) {
                    Some(existing) => *existing = rule,
                    None => specs.push(rule),
                }
            }
            for name in &over.disable {
                let before = specs.len();
                specs.retain(|r| &r.name != name);
                if specs.len() == before {
                    return err(format!("{origin}: cannot disable `{name}`: no such rule"));
                }
            }
        }
        Self::build(specs)
    }

    fn build(specs: Vec<RuleSpec>) -> Result<Self, RulesError> {
        let mut rules = Vec::with_capacity(specs.len());
        let mut per_field: [Vec<(String, Group)>; 4] = Default::default();
        for (index, spec) in specs.into_iter().enumerate() {
            let name = spec.name.clone();
            if !(spec.score > 0.0 && spec.score <= 1.0) {
                return err(format!(
                    "rule `{name}`: score must be above 0 and at most 1 (got {})",
                    spec.score
                ));
            }
            // Thousandths, so the score formula and the bands are exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let score = (spec.score * 1000.0).round() as u16;
            let mut groups = spec.groups;
            if !spec.patterns.is_empty() || spec.fields.is_some() || !spec.unless.is_empty() {
                groups.insert(
                    0,
                    MatchSpec {
                        fields: spec.fields,
                        patterns: spec.patterns,
                        unless: spec.unless,
                    },
                );
            }
            let window = match (spec.window, groups.is_empty()) {
                (Some(_), false) => {
                    return err(format!(
                        "rule `{name}`: has both patterns and a window; make two rules"
                    ))
                }
                (None, true) => {
                    return err(format!("rule `{name}`: needs `patterns` or a `window`"))
                }
                (Some(w), true) => Some(compile_window(&name, w)?),
                (None, false) => None,
            };
            for (g, group) in groups.into_iter().enumerate() {
                if group.patterns.is_empty() {
                    return err(format!(
                        "rule `{name}`: match group {} has no patterns",
                        g + 1
                    ));
                }
                for (p, pattern) in group.patterns.iter().chain(&group.unless).enumerate() {
                    regex(pattern).map_err(|e| {
                        RulesError(format!(
                            "rule `{name}`: pattern {} does not compile: {e}",
                            p + 1
                        ))
                    })?;
                }
                let source = alternation(&group.patterns);
                let compiled =
                    regex(&source).map_err(|e| RulesError(format!("rule `{name}`: {e}")))?;
                let unless = if group.unless.is_empty() {
                    None
                } else {
                    Some(
                        regex(&alternation(&group.unless))
                            .map_err(|e| RulesError(format!("rule `{name}`: {e}")))?,
                    )
                };
                let fields = group.fields.unwrap_or_else(|| vec![Field::Uri]);
                if fields.is_empty() {
                    return err(format!("rule `{name}`: `fields` is empty"));
                }
                for field in fields {
                    per_field[field.index()].push((
                        source.clone(),
                        Group {
                            rule: index,
                            regex: compiled.clone(),
                            unless: unless.clone(),
                        },
                    ));
                }
            }
            rules.push(Rule {
                name,
                score,
                description: spec.description,
                window,
            });
        }
        let mut fields: [Option<FieldSet>; 4] = Default::default();
        for (slot, entries) in fields.iter_mut().zip(per_field) {
            if entries.is_empty() {
                continue;
            }
            let set = RegexSetBuilder::new(entries.iter().map(|(s, _)| s))
                .case_insensitive(true)
                .unicode(false)
                .dfa_size_limit(DFA_CACHE)
                .size_limit(64 << 20)
                .build()
                .map_err(|e| RulesError(format!("the rules do not compile together: {e}")))?;
            *slot = Some(FieldSet {
                set,
                groups: entries.into_iter().map(|(_, g)| g).collect(),
            });
        }
        Ok(Self { rules, fields })
    }

    /// The groups looking at `field`, if any.
    #[must_use]
    pub fn field(&self, field: Field) -> Option<&FieldSet> {
        self.fields[field.index()].as_ref()
    }

    /// The rule called `name`.
    #[must_use]
    pub fn by_name(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }
}

fn unique(specs: Vec<RuleSpec>, origin: &str) -> Result<Vec<RuleSpec>, RulesError> {
    let mut seen = std::collections::HashSet::new();
    for spec in &specs {
        if !valid_name(&spec.name) {
            return err(format!(
                "{origin}: rule name `{}` must be 1 to 100 of A-Z, 0-9 and _, starting with a letter",
                spec.name
            ));
        }
        if !seen.insert(spec.name.clone()) {
            return err(format!("{origin}: rule `{}` is defined twice", spec.name));
        }
    }
    Ok(specs)
}

fn compile_window(name: &str, spec: WindowSpec) -> Result<Window, RulesError> {
    if !(1..=86_400).contains(&spec.seconds()) {
        return err(format!(
            "rule `{name}`: window seconds must be 1 to 86400 (got {})",
            spec.seconds()
        ));
    }
    let path = match &spec {
        WindowSpec::ErrorRatio { more_than, .. } if !(0.0..1.0).contains(more_than) => {
            return err(format!(
                "rule `{name}`: error_ratio more_than is a share from 0 to below 1 (got {more_than})"
            ))
        }
        WindowSpec::FailedLogins { statuses, path, .. } => {
            if statuses.is_empty() {
                return err(format!("rule `{name}`: failed_logins needs statuses"));
            }
            Some(regex(path).map_err(|e| {
                RulesError(format!("rule `{name}`: path does not compile: {e}"))
            })?)
        }
        _ => None,
    };
    Ok(Window { spec, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_compile_with_the_reference_scores() {
        let rules = Rules::builtin().unwrap();
        let expected = [
            ("LOG4SHELL", 950),
            ("COMMAND_INJECTION", 900),
            ("SQL_INJECTION", 850),
            ("XXE_INJECTION", 820),
            ("XSS", 800),
            ("FILE_INCLUSION", 750),
            ("SSRF", 700),
            ("CRLF_INJECTION", 650),
            ("PATH_TRAVERSAL", 600),
            ("OPEN_REDIRECT", 550),
            ("DOUBLE_ENCODING", 400),
            ("SCANNER_UA", 350),
            ("RATE_ANOMALY", 300),
            ("HIGH_ERROR_RATE", 250),
            ("BRUTE_FORCE", 500),
        ];
        let got: Vec<(&str, u16)> = rules
            .rules
            .iter()
            .map(|r| (r.name.as_str(), r.score))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn an_overlay_overrides_adds_and_disables() {
        let overlay = r"
rules:
  - name: SQL_INJECTION
    score: 0.5
    patterns: ['\bdrop\s+table\b']
  - name: WP_PROBE
    score: 0.6
    patterns: ['^/wp-admin/']
disable: [SCANNER_UA, RATE_ANOMALY]
";
        let rules = Rules::compile(BUILTIN, Some((overlay, "ops.yaml"))).unwrap();
        let sqli = rules.by_name("SQL_INJECTION").unwrap();
        assert_eq!(sqli.score, 500);
        assert_eq!(rules.rules[2].name, "SQL_INJECTION", "kept its place");
        assert_eq!(rules.rules.last().unwrap().name, "WP_PROBE");
        assert!(rules.by_name("SCANNER_UA").is_none());
        assert!(rules.by_name("RATE_ANOMALY").is_none());
        assert!(
            rules.field(Field::UserAgent).is_some(),
            "LOG4SHELL still looks at it"
        );
    }

    #[test]
    fn bad_files_are_refused_naming_the_problem() {
        let cases = [
            ("rules: [{name: X, score: 2, patterns: [a]}]", "score"),
            ("rules: [{name: lower, score: 0.5, patterns: [a]}]", "rule name"),
            ("rules: [{name: X, score: 0.5, patterns: ['(']}]", "pattern 1 does not compile"),
            ("rules: [{name: X, score: 0.5}]", "needs `patterns` or a `window`"),
            ("rules: [{name: X, score: 0.5, patterns: [a], colour: red}]", "colour"),
            ("rules: [{name: X, score: 0.5, window: {kind: requests, seconds: 0, more_than: 1}}]", "seconds"),
            ("rules: [{name: X, score: 0.5, window: {kind: weekly}}]", "weekly"),
            ("rules: [{name: X, score: 0.5, window: {kind: error_ratio, seconds: 60, at_least: 1, more_than: 1.5}}]", "share"),
            ("rules: [{name: X, score: 0.5, patterns: [a]}, {name: X, score: 0.5, patterns: [b]}]", "twice"),
            ("disable: [NOPE]", "no such rule"),
            ("rules: {", "ops.yaml"),
        ];
        for (text, needle) in cases {
            let e = Rules::compile(BUILTIN, Some((text, "ops.yaml"))).unwrap_err();
            assert!(e.0.contains(needle), "{text}: {e}");
        }
        let e = Rules::load(Some(Path::new("/nonexistent/rules.yaml"))).unwrap_err();
        assert!(e.0.contains("/nonexistent/rules.yaml"), "{e}");
        assert!(Rules::compile(BUILTIN, Some(("", "empty.yaml"))).is_ok());
    }
}
