//! `vidseed print-systemd serve|control|data`: a hardened systemd unit for each way of running
//! vidseed, pure text. The service runs as the dedicated user `vidseed`, sees the file system
//! read-only (`ProtectSystem=strict`) except its state folder (and, for a data node, its
//! redundancy cache), reads the media under `/srv/vidseed/media`, may hold as many files open
//! as a busy node needs (`LimitNOFILE`) and has no capabilities at all: it listens on ports
//! above 1024 (a reverse proxy or the TLS port of a data node can be moved to 443 with
//! `AmbientCapabilities=CAP_NET_BIND_SERVICE`, as the units say).

/// Which unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Unit {
    /// Both planes in one process (`vidseed serve`).
    Serve,
    /// The control plane alone (`vidseed control`).
    Control,
    /// A data node (`vidseed data`).
    Data,
}

/// Where the packaged binary lives.
pub(crate) const BINARY: &str = "/usr/bin/vidseed";

const HARDENING: &str = "\
User=vidseed
Group=vidseed
# Files and folders vidseed makes are its own.
UMask=0027
# The whole file system is read-only for the service, /home and /root are hidden, /tmp is its
# own; only the paths listed in ReadWritePaths= can be written.
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
NoNewPrivileges=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RemoveIPC=yes
# vidseed never needs a capability: it listens above port 1024. To bind 80 or 443 itself, add
# AmbientCapabilities=CAP_NET_BIND_SERVICE and CapabilityBoundingSet=CAP_NET_BIND_SERVICE.
CapabilityBoundingSet=
AmbientCapabilities=
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM
# One descriptor per connection: a busy node holds tens of thousands.
LimitNOFILE=1048576
";

/// The unit's text.
pub(crate) fn unit(which: Unit) -> String {
    let (description, after, exec, paths) = match which {
        Unit::Serve => (
            "vidseed: both planes (WebSeeds, tracker, API, federation) in one process",
            "network-online.target",
            format!(
                "{BINARY} serve /srv/vidseed/media --state /var/lib/vidseed --control-listen 127.0.0.1:9000 --data-listen 0.0.0.0:9001 --config /etc/vidseed/vidseed.toml"
            ),
            "ReadWritePaths=/var/lib/vidseed\nReadOnlyPaths=/srv/vidseed/media /etc/vidseed\n",
        ),
        Unit::Control => (
            "vidseed control plane (library, API, federation, catalog channel)",
            "network-online.target postgresql.service",
            format!("{BINARY} control --library /srv/vidseed/media --state /var/lib/vidseed --listen 127.0.0.1:8081 --channel-listen 0.0.0.0:9002"),
            "ReadWritePaths=/var/lib/vidseed\nReadOnlyPaths=/srv/vidseed/media\n",
        ),
        Unit::Data => (
            "vidseed data node (WebSeeds and tracker)",
            "network-online.target",
            format!("{BINARY} data --config /etc/vidseed/node.toml"),
            "ReadWritePaths=/var/lib/vidseed\nReadOnlyPaths=/srv/vidseed/media /etc/vidseed\n",
        ),
    };
    format!(
        "# vidseed-{name}.service: installed by the vidseed package in /usr/lib/systemd/system, or
# written by `{BINARY} print-systemd {name} > /etc/systemd/system/vidseed-{name}.service`.
# Fit the paths and addresses of ExecStart= and *Paths= to your layout (for the package's unit:
# `systemctl edit --full vidseed-{name}`, a copy in /etc that upgrades leave alone), then:
#   systemctl daemon-reload && systemctl enable --now vidseed-{name}
[Unit]
Description={description}
Wants=network-online.target
After={after}

[Service]
Type=simple
ExecStart={exec}
Restart=on-failure
RestartSec=2s
# A stop lets requests in flight finish (5 s of grace), then the process exits.
KillSignal=SIGTERM
TimeoutStopSec=30s
Environment=RUST_LOG=info
# Logs go to the journal; use --log-format json for a collector.
StandardOutput=journal
StandardError=journal
StateDirectory=vidseed
StateDirectoryMode=0750
ConfigurationDirectory=vidseed
{paths}{HARDENING}
[Install]
WantedBy=multi-user.target
",
        name = match which {
            Unit::Serve => "serve",
            Unit::Control => "control",
            Unit::Data => "data",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_is_hardened_and_runs_its_command() {
        for (which, command) in [(Unit::Serve, " serve "), (Unit::Control, " control "), (Unit::Data, " data ")] {
            let text = unit(which);
            let exec = text.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
            assert!(exec.starts_with("ExecStart=/usr/bin/vidseed") && exec.contains(command), "{exec}");
            for line in ["User=vidseed", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=", "LimitNOFILE=1048576", "ReadWritePaths=/var/lib/vidseed"] {
                assert!(text.lines().any(|l| l == line), "{which:?}: no {line}");
            }
            assert!(!text.lines().any(|l| l.starts_with("AmbientCapabilities=CAP")), "no capability by default");
        }
    }
}
