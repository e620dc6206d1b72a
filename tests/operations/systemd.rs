//! The systemd units `vidseed print-systemd` prints: each is checked by `systemd-analyze
//! verify` where the machine has it (the unit's binary pointed at the one under test).

use std::process::Command;

fn printed(unit: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vidseed")).args(["print-systemd", unit]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_units_pass_systemd_analyze_verify() {
    let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].into_iter().find(|p| std::path::Path::new(p).exists());
    let dir = tempfile::tempdir().unwrap();
    for unit in ["serve", "control", "data"] {
        let text = printed(unit);
        assert!(text.contains("ProtectSystem=strict") && text.contains("User=vidseed"), "{text}");
        let Some(analyze) = analyze else { continue };
        let path = dir.path().join(format!("vidseed-{unit}.service"));
        std::fs::write(&path, text.replace("/usr/bin/vidseed", env!("CARGO_BIN_EXE_vidseed"))).unwrap();
        let out = Command::new(analyze).args(["verify", "--man=no"]).arg(&path).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        // Lines about other units of the machine are not ours to judge.
        let ours: Vec<&str> = said.lines().filter(|l| l.contains("vidseed")).collect();
        assert!(out.status.success() && ours.is_empty(), "{unit}: {said}");
    }
    if analyze.is_none() {
        eprintln!("systemd-analyze is not installed: the units were only printed");
    }
}

#[test]
fn an_unknown_unit_is_refused_by_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_vidseed")).args(["print-systemd", "edge"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("serve, control, data"));
}
