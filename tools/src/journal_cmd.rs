//! `tickwire journal inspect|tail|stats|verify`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tickwire_core::event::{Kind, Record};
use tickwire_core::journal::{self, Reader, RecordRef};

use crate::Failure;

/// Opens a journal for reading, with a clear error for a missing or foreign directory.
pub fn open_reader(dir: &Path) -> Result<Reader, Failure> {
    if dir.is_file() {
        return Err(Failure::new(format!(
            "{} is a file: a journal is a directory of NNNNNNNN.twj segments",
            dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(Failure::new(format!(
            "{}: no such journal directory",
            dir.display()
        )));
    }
    Reader::open(dir).map_err(|e| Failure::new(e.to_string()))
}

/// The record kinds `--kind` accepts, for the command line's help and errors.
pub fn kind_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Kind::ALL.iter().map(|k| k.name()))
}

fn parse_kinds(names: &[String]) -> Result<Vec<u16>, Failure> {
    names
        .iter()
        .map(|n| {
            Kind::from_name(n).map(Kind::code).ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                Failure::new(format!(
                    "unknown record kind {n:?} (known: {})",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn kind_name(code: u16) -> String {
    Kind::from_code(code).map_or_else(|| format!("kind#{code}"), |k| k.name().to_owned())
}

/// Flattens `{"meta":{"venue":..}, "px":..}` into `venue=.. px=..` for text output, leaving out
/// latency stamps that are zero (not reached).
fn text_fields(value: &Value, prefix: &str, out: &mut String) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let name = match (prefix, k.as_str()) {
                    (_, "meta") => String::new(),
                    ("", _) | ("meta", _) => k.clone(),
                    (p, _) => format!("{p}.{k}"),
                };
                if k == "stamps" {
                    text_stamps(v, out);
                } else if k == "meta" {
                    text_fields(v, "meta", out);
                } else {
                    text_fields(v, &name, out);
                }
            }
        }
        Value::String(s) => {
            out.push(' ');
            out.push_str(prefix);
            out.push('=');
            out.push_str(s);
        }
        other => {
            out.push(' ');
            out.push_str(prefix);
            out.push('=');
            out.push_str(&other.to_string());
        }
    }
}

fn text_stamps(v: &Value, out: &mut String) {
    if let Value::Object(map) = v {
        let set: Vec<String> = map
            .iter()
            .filter(|(_, v)| v.as_u64().is_some_and(|n| n != 0))
            .map(|(k, v)| format!("{}:{v}", k.trim_end_matches("_ns")))
            .collect();
        if !set.is_empty() {
            out.push_str(" stamps=");
            out.push_str(&set.join(","));
        }
    }
}

fn render(rec: &RecordRef<'_>, json_mode: bool) -> String {
    let decoded = Record::decode(rec.kind, rec.payload);
    let body = match &decoded {
        Ok(r) => serde_json::to_value(r).unwrap_or(Value::Null),
        Err(e) => json!({ "undecodable": e.to_string(), "bytes": rec.payload.len() }),
    };
    if json_mode {
        let mut line = Map::new();
        line.insert("seq".into(), json!(rec.seq));
        line.insert("ts".into(), json!(rec.ts));
        line.insert("kind".into(), json!(kind_name(rec.kind)));
        line.insert("record".into(), body);
        Value::Object(line).to_string()
    } else if let Ok(Record::Config(text)) = decoded {
        format!(
            "{:>10} {:>20} config ({} bytes of TOML)",
            rec.seq,
            rec.ts,
            text.len()
        )
    } else {
        let mut fields = String::new();
        text_fields(&body, "", &mut fields);
        format!(
            "{:>10} {:>20} {:<13}{fields}",
            rec.seq,
            rec.ts,
            kind_name(rec.kind)
        )
    }
}

fn write_line(out: &mut impl Write, line: &str) -> Result<(), Failure> {
    writeln!(out, "{line}").map_err(|e| Failure::new(format!("writing output: {e}")))
}

/// `journal inspect`.
pub fn inspect(
    dir: &Path,
    from: Option<u64>,
    to: Option<u64>,
    kinds: &[String],
    json_mode: bool,
) -> Result<(), Failure> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(Failure::new(format!(
            "--from {f} is after --to {t}: no record can match"
        )));
    }
    let kinds = parse_kinds(kinds)?;
    let mut reader = open_reader(dir)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    loop {
        let rec = match reader.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                let _ = out.flush();
                return Err(Failure::new(e.to_string()));
            }
        };
        if from.is_some_and(|f| rec.seq < f) || (!kinds.is_empty() && !kinds.contains(&rec.kind)) {
            continue;
        }
        if to.is_some_and(|t| rec.seq > t) {
            break;
        }
        write_line(&mut out, &render(&rec, json_mode))?;
    }
    let _ = out.flush();
    if reader.torn_tail().is_some() {
        errln!("note: the journal ends in a torn record (an unfinished append); it is not shown");
    }
    Ok(())
}

/// `journal tail`: prints records as another process appends them.
pub fn tail(
    dir: &Path,
    kinds: &[String],
    json_mode: bool,
    idle_exit: Option<f64>,
) -> Result<(), Failure> {
    let kinds = parse_kinds(kinds)?;
    let mut reader = open_reader(dir)?;
    let idle_limit = idle_exit
        .map(|s| crate::config::seconds("--idle-exit", s))
        .transpose()?;
    let mut last_record = Instant::now();
    let stdout = std::io::stdout();
    loop {
        match reader.next().map_err(|e| Failure::new(e.to_string()))? {
            Some(rec) => {
                last_record = Instant::now();
                if kinds.is_empty() || kinds.contains(&rec.kind) {
                    let line = render(&rec, json_mode);
                    let mut out = stdout.lock();
                    write_line(&mut out, &line)?;
                    let _ = out.flush();
                }
            }
            None => {
                if idle_limit.is_some_and(|l| last_record.elapsed() >= l) {
                    return Ok(());
                }
                // Not a hot path: a reader polling a file for ops. 2 ms keeps latency low
                // without burning a core.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// `journal stats`.
pub fn stats(dir: &Path) -> Result<(), Failure> {
    let report = verify_report(dir)?;
    let mut reader = open_reader(dir)?;
    let mut counts: BTreeMap<u16, (u64, u64)> = BTreeMap::new();
    let mut sessions = 0;
    while let Some(rec) = reader.next().map_err(|e| Failure::new(e.to_string()))? {
        let e = counts.entry(rec.kind).or_default();
        e.0 += 1;
        e.1 += rec.payload.len() as u64;
        if rec.kind == Kind::Session.code() {
            sessions += 1;
        }
    }
    let span_ns = match (report.first_ts, report.last_ts) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    outln!("journal   {}", dir.display());
    outln!(
        "segments  {} ({} bytes written)",
        report.segments,
        report.bytes
    );
    outln!(
        "records   {} (seq {}..={}), {} session(s)",
        report.records,
        opt(report.first_seq),
        opt(report.last_seq),
        sessions
    );
    outln!("span      {:.6} s of event time", span_ns as f64 / 1e9);
    if span_ns > 0 {
        outln!(
            "rate      {:.0} records/s of event time",
            report.records as f64 * 1e9 / span_ns as f64
        );
    }
    outln!("{:<14} {:>12} {:>14}", "kind", "records", "payload bytes");
    for (kind, (n, bytes)) in counts {
        outln!("{:<14} {n:>12} {bytes:>14}", kind_name(kind));
    }
    if let Some(t) = report.torn_tail {
        outln!(
            "torn tail  segment {} offset {} ({} bytes), cut when the journal is next opened for append",
            t.segment,
            t.offset,
            t.bytes
        );
    }
    if let Some(c) = report.corruption {
        return Err(Failure::new(format!(
            "corruption at segment {} offset {}: {}",
            c.segment, c.offset, c.reason
        )));
    }
    Ok(())
}

fn verify_report(dir: &Path) -> Result<journal::VerifyReport, Failure> {
    if dir.is_file() {
        return Err(Failure::new(format!(
            "{} is a file: a journal is a directory of NNNNNNNN.twj segments",
            dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(Failure::new(format!(
            "{}: no such journal directory",
            dir.display()
        )));
    }
    journal::verify(dir).map_err(|e| Failure::new(e.to_string()))
}

/// `journal verify`: exit 0 for a clean journal or a torn tail, 1 for corruption.
pub fn verify(dir: &Path) -> Result<(), Failure> {
    let r = verify_report(dir)?;
    outln!(
        "{} segment(s), {} records, seq {}..={}, {} bytes",
        r.segments,
        r.records,
        opt(r.first_seq),
        opt(r.last_seq),
        r.bytes
    );
    if let Some(c) = r.corruption {
        let keep = match r.last_seq {
            Some(seq) => format!(
                "; every record up to seq {seq} is intact (`tickwire journal repair {} --to {seq}` cuts after it, keeping a backup)",
                dir.display()
            ),
            None => "; no record before it is intact".to_owned(),
        };
        return Err(Failure::new(format!(
            "CORRUPT: segment {} offset {}: {}{keep}",
            c.segment, c.offset, c.reason
        )));
    }
    match r.torn_tail {
        Some(t) => outln!(
            "OK with torn tail: segment {} offset {} ({} bytes of an unfinished append); every record before it is intact",
            t.segment,
            t.offset,
            t.bytes
        ),
        None => outln!("OK: every record intact, sequence continuous"),
    }
    Ok(())
}

/// `journal repair DIR --to SEQ [--backup PATH]`: copies the journal to the backup directory,
/// then cuts it after record SEQ so a run can resume from there.
pub fn repair(dir: &Path, to_seq: u64, backup: Option<&Path>) -> Result<(), Failure> {
    let r = verify_report(dir)?;
    match r.last_seq {
        Some(last) if to_seq <= last => {}
        Some(last) => {
            return Err(Failure::new(format!(
                "seq {to_seq} is past the last intact record ({last}): repair keeps only intact records"
            )));
        }
        None => return Err(Failure::new("the journal holds no intact record to keep")),
    }
    if to_seq == 0 {
        return Err(Failure::new("--to must name a record (seqs start at 1)"));
    }
    let backup = match backup {
        Some(p) => p.to_path_buf(),
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let name = dir
                .file_name()
                .map_or_else(|| "journal".into(), |n| n.to_string_lossy().into_owned());
            dir.with_file_name(format!("{name}.backup-{secs}"))
        }
    };
    if backup.exists() {
        return Err(Failure::new(format!(
            "backup {} already exists: name another with --backup",
            backup.display()
        )));
    }
    let rep = journal::repair(dir, to_seq, &backup).map_err(|e| Failure::new(e.to_string()))?;
    let dropped = r.records.saturating_sub(to_seq);
    outln!(
        "repaired {}: kept seq 1..={}, cut {dropped} intact record(s) after it and everything damaged, removed {} segment file(s); the journal as it was is in {}",
        dir.display(),
        rep.kept_to_seq,
        rep.removed_segments,
        rep.backup.display()
    );
    Ok(())
}
