//! Accuracy on the labelled corpus in `tests/data/detection/`: ordinary
//! traffic must never score MEDIUM or above, and every rule must catch at
//! least 95 % of the attack lines labelled with it. Prints the per-rule
//! precision and recall (`cargo test corpus -- --nocapture`).
//!
//! `attack.labels` holds, for each line of `attack.log`, the rules that line
//! must trigger (comma-separated), or `-` when it must trigger none (the
//! first requests of a flood). A rule that fires on a line not labelled
//! with it counts against its precision, on either file.
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use vigil::{
    detection::{parse::parse, rules::Rules, Detector},
    models::severity::Severity,
};

const BENIGN: &str = include_str!("../data/detection/benign.log");
const ATTACK: &str = include_str!("../data/detection/attack.log");
const LABELS: &str = include_str!("../data/detection/attack.labels");

#[derive(Default)]
struct Tally {
    labelled: u32,
    caught: u32,
    missed: u32,
    false_alarms: u32,
}

#[test]
fn corpus_precision_and_recall_per_rule() {
    let rules = Arc::new(Rules::builtin().unwrap());
    let mut tally: BTreeMap<String, Tally> = rules
        .rules
        .iter()
        .map(|r| (r.name.clone(), Tally::default()))
        .collect();

    let mut benign = Detector::new(rules.clone(), 10_000);
    let mut benign_lines = 0;
    let mut loud = Vec::new();
    for (n, text) in BENIGN.lines().enumerate() {
        let line = parse(text).unwrap_or_else(|e| panic!("benign.log:{}: {e}", n + 1));
        benign_lines += 1;
        let verdict = benign.inspect(&line);
        if verdict.severity() >= Severity::Medium {
            loud.push(format!(
                "benign.log:{}: {:?}: {text}",
                n + 1,
                verdict.components
            ));
        }
        for c in &verdict.components {
            tally.get_mut(&c.rule).unwrap().false_alarms += 1;
        }
    }

    let labels: Vec<&str> = LABELS.lines().collect();
    assert_eq!(
        labels.len(),
        ATTACK.lines().count(),
        "one label line per log line"
    );
    let mut attack = Detector::new(rules.clone(), 10_000);
    let (mut attack_lines, mut stored) = (0, 0);
    let mut misses = Vec::new();
    for (n, (text, label)) in ATTACK.lines().zip(&labels).enumerate() {
        let line = parse(text).unwrap_or_else(|e| panic!("attack.log:{}: {e}", n + 1));
        let expected: BTreeSet<&str> = label.split(',').filter(|l| *l != "-").collect();
        for rule in &expected {
            assert!(
                tally.contains_key(*rule),
                "attack.labels:{}: unknown rule {rule}",
                n + 1
            );
        }
        let verdict = attack.inspect(&line);
        if !expected.is_empty() {
            attack_lines += 1;
            stored += u32::from(verdict.severity() >= Severity::Medium);
        }
        for rule in &expected {
            let t = tally.get_mut(*rule).unwrap();
            t.labelled += 1;
            if verdict.matched(rule) {
                t.caught += 1;
            } else {
                t.missed += 1;
                misses.push(format!("attack.log:{}: {rule} missed: {text}", n + 1));
            }
        }
        for c in &verdict.components {
            if !expected.contains(c.rule.as_str()) {
                tally.get_mut(&c.rule).unwrap().false_alarms += 1;
                misses.push(format!(
                    "attack.log:{}: {} not expected: {text}",
                    n + 1,
                    c.rule
                ));
            }
        }
    }

    println!("\ncorpus: {benign_lines} benign lines, {attack_lines} labelled attack lines ({stored} scored MEDIUM or above, so stored)");
    println!("| rule | score | labelled | caught | missed | false alarms | precision | recall |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for rule in &rules.rules {
        let t = &tally[&rule.name];
        let precision = f64::from(t.caught) / f64::from((t.caught + t.false_alarms).max(1));
        let recall = f64::from(t.caught) / f64::from(t.labelled.max(1));
        println!(
            "| {} | {:.2} | {} | {} | {} | {} | {:.1} % | {:.1} % |",
            rule.name,
            f64::from(rule.score) / 1000.0,
            t.labelled,
            t.caught,
            t.missed,
            t.false_alarms,
            precision * 100.0,
            recall * 100.0
        );
    }
    println!("benign lines scored MEDIUM or above: {}", loud.len());
    for m in &misses {
        println!("  {m}");
    }

    assert!(benign_lines >= 300, "at least 300 benign lines");
    assert!(attack_lines >= 300, "at least 300 labelled attack lines");
    assert!(
        loud.is_empty(),
        "benign lines scored MEDIUM or above:\n{}",
        loud.join("\n")
    );
    for (rule, t) in &tally {
        assert!(t.labelled > 0, "no attack line is labelled {rule}");
        assert!(
            f64::from(t.caught) >= 0.95 * f64::from(t.labelled),
            "{rule}: recall {} of {}",
            t.caught,
            t.labelled
        );
    }
}
