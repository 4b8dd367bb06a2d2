//! `tickwire drill list|run`: the command-line face of [`tickwire::drill`].

use crate::Failure;

/// Prints every drill and what it proves.
pub fn list() -> Result<(), Failure> {
    for (name, what) in tickwire::drill::DRILLS {
        outln!("{name:<22} {what}");
    }
    Ok(())
}

/// Runs drill `name`, or every drill when `None`, with this binary as the engine.
pub fn run(name: Option<&str>) -> Result<(), Failure> {
    let bin = std::env::current_exe()
        .map_err(|e| Failure::new(format!("cannot find the tickwire binary: {e}")))?;
    let names: Vec<&str> = match name {
        Some(n) => vec![n],
        None => tickwire::drill::DRILLS.iter().map(|(n, _)| *n).collect(),
    };
    let mut passed = 0;
    for n in &names {
        let outcome = tickwire::drill::run(n, &bin).map_err(Failure::new)?;
        out!("{}", outcome.report());
        if outcome.passed() {
            passed += 1;
        }
    }
    outln!("{passed}/{} drills passed", names.len());
    if passed == names.len() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{} drill(s) failed",
            names.len() - passed
        )))
    }
}
