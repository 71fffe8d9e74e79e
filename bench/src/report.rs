//! The targets of the run, each with its figure, its baseline and whether
//! it held, printed together at the end.

pub struct Verdicts(Vec<Verdict>);

struct Verdict {
    measure: String,
    figure: String,
    target: String,
    held: bool,
}

impl Verdicts {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn check(&mut self, measure: &str, figure: String, target: &str, held: bool) {
        self.0.push(Verdict { measure: measure.into(), figure, target: target.into(), held });
    }

    pub fn print(&self) {
        println!("\n## Targets\n\n| measure | figure (baseline) | target | |\n|---|---|---|---|");
        for v in &self.0 {
            println!("| {} | {} | {} | {} |", v.measure, v.figure, v.target, mark(v.held));
        }
        let held = self.0.iter().filter(|v| v.held).count();
        println!("\n{held} of {} targets held", self.0.len());
    }
}

pub fn mark(held: bool) -> &'static str {
    if held {
        "✓"
    } else {
        "✗"
    }
}
