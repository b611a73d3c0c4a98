//! The machine a run measured, printed before its figures, so that a saved run says where
//! it came from: the processor, how many CPUs, the kernel, the compiler, the peer library,
//! and which checksum loop oxtcp chose on this processor.

/// One line describing this machine.
pub fn describe() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| model_name(&s))
        .unwrap_or_else(|| "processor unknown".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| "kernel unknown".into());
    format!(
        "machine: {cpu}, {cpus} CPUs; {kernel}; {}; smoltcp {}; oxtcp's checksum loop: {}",
        env!("OXTCP_BENCH_RUSTC"),
        env!("OXTCP_BENCH_SMOLTCP"),
        oxtcp_wire::checksum::long_loop()
    )
}

/// The first `model name` of /proc/cpuinfo.
fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_name_is_the_first_processors() {
        let info = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\n\n\
                    processor\t: 1\nmodel name\t: other\n";
        assert_eq!(model_name(info).as_deref(), Some("AMD EPYC 9R14"));
        assert_eq!(model_name("processor\t: 0\n"), None);
    }

    #[test]
    fn the_line_names_the_compiler_and_the_checksum_loop() {
        let line = describe();
        assert!(line.starts_with("machine: "), "{line}");
        assert!(line.contains("rustc "), "{line}");
        assert!(line.contains("smoltcp 0."), "{line}");
        assert!(line.contains("checksum loop: "), "{line}");
    }
}
