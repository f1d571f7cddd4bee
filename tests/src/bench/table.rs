//! The report's one markdown table: each measure next to its reference from the same run.

/// One row: what was measured, its value, the reference measured in the same run, the ratio
/// or target it is judged by, and the verdict (`pass`, `FAIL` or `info`).
pub struct Row {
    pub measure: String,
    pub value: String,
    pub reference: String,
    pub judged_by: String,
    pub verdict: Verdict,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    Pass,
    Fail,
    /// No target: reported for the record.
    Info,
}

impl Verdict {
    /// `Pass` when `ok`, else `Fail`.
    pub fn of(ok: bool) -> Verdict {
        if ok {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "**FAIL**",
            Verdict::Info => "info",
        }
    }
}

impl Row {
    pub fn new(
        measure: impl Into<String>,
        value: impl Into<String>,
        reference: impl Into<String>,
        judged_by: impl Into<String>,
        verdict: Verdict,
    ) -> Row {
        Row {
            measure: measure.into(),
            value: value.into(),
            reference: reference.into(),
            judged_by: judged_by.into(),
            verdict,
        }
    }
}

/// The table as markdown, header first.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| measure | value | reference (same run) | ratio / target | verdict |\n|---|---|---|---|---|\n",
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            row.measure,
            row.value,
            row.reference,
            row.judged_by,
            row.verdict.as_str()
        ));
    }
    out
}

/// `bytes` in kB as megabytes with one decimal.
pub fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}
