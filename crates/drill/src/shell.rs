//! Shell lines and `%{ }%` blocks: `sysctl -w` settings mapped onto the stack's
//! configuration, `sockstat ... | grep` connection counts, `tcpdrop`, and `tcpi_state`
//! assertions. Anything else is reported as unsupported, by name.

use std::time::Duration;

use oxtcp_core::{RstPolicy, State, SynCookies, SynPolicy};

use crate::profile::ProfileKind;
use crate::run::Runner;
use crate::syscalls::SockKind;
use crate::verdict::Stop;

/// FreeBSD's default net.inet.tcp.delacktime, milliseconds.
const FREEBSD_DELACKTIME_MS: u64 = 40;

/// FreeBSD's name of a state, as `sockstat -s` and `tcpdrop -s` print it.
fn bsd_state_name(s: State) -> &'static str {
    match s {
        State::Closed => "CLOSED",
        State::Listen => "LISTEN",
        State::SynSent => "SYN_SENT",
        State::SynReceived => "SYN_RCVD",
        State::Established => "ESTABLISHED",
        State::CloseWait => "CLOSE_WAIT",
        State::FinWait1 => "FIN_WAIT_1",
        State::Closing => "CLOSING",
        State::LastAck => "LAST_ACK",
        State::FinWait2 => "FIN_WAIT_2",
        State::TimeWait => "TIME_WAIT",
    }
}

/// The state a `TCPI_*` name stands for (Linux and FreeBSD spellings).
fn tcpi_state(name: &str) -> Option<State> {
    Some(match name {
        "TCPI_CLOSED" | "TCP_CLOSE" => State::Closed,
        "TCPI_LISTEN" | "TCP_LISTEN" => State::Listen,
        "TCPI_SYN_SENT" | "TCP_SYN_SENT" => State::SynSent,
        "TCPI_SYN_RECEIVED" | "TCPI_SYN_RECV" | "TCP_SYN_RECV" => State::SynReceived,
        "TCPI_ESTABLISHED" | "TCP_ESTABLISHED" => State::Established,
        "TCPI_CLOSE_WAIT" | "TCP_CLOSE_WAIT" => State::CloseWait,
        "TCPI_FIN_WAIT_1" | "TCPI_FIN_WAIT1" | "TCP_FIN_WAIT1" => State::FinWait1,
        "TCPI_CLOSING" | "TCP_CLOSING" => State::Closing,
        "TCPI_LAST_ACK" | "TCP_LAST_ACK" => State::LastAck,
        "TCPI_FIN_WAIT_2" | "TCPI_FIN_WAIT2" | "TCP_FIN_WAIT2" => State::FinWait2,
        "TCPI_TIME_WAIT" | "TCP_TIME_WAIT" => State::TimeWait,
        _ => return None,
    })
}

fn parse_bool(name: &str, value: &str) -> Result<bool, Stop> {
    match value {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(Stop::unsupported(format!("sysctl {name}={value}"))),
    }
}

fn parse_num(name: &str, value: &str) -> Result<u64, Stop> {
    value
        .parse()
        .map_err(|_| Stop::unsupported(format!("sysctl {name}={value}")))
}

/// One row of the emulated `sockstat -s`.
struct Row {
    held: bool,
    v4: bool,
    local_port: u16,
    remote_port: Option<u16>,
    text: String,
}

impl Runner<'_> {
    /// A backquoted shell line.
    pub(crate) fn shell(&mut self, cmd: &str) -> Result<(), Stop> {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        match words.first().copied() {
            Some("sysctl") => self.sysctl(&words[1..]),
            Some("sockstat") => self.sockstat(cmd),
            Some("tcpdrop") => self.tcpdrop(&words[1..]),
            _ => Err(Stop::unsupported(format!("shell command `{cmd}`"))),
        }
    }

    fn sysctl(&mut self, args: &[&str]) -> Result<(), Stop> {
        let mut cfg = self.stack.config().clone();
        let mut settings = 0;
        for arg in args {
            if matches!(*arg, "-w" | "-q") {
                continue;
            }
            let Some((name, value)) = arg.split_once('=') else {
                return Err(Stop::unsupported(format!("sysctl read of {arg}")));
            };
            settings += 1;
            let value = value.trim_matches('"');
            match (self.opts.profile.kind, name) {
                (ProfileKind::FreeBsd, "net.inet.tcp.insecure_rst") => {
                    cfg.rst_policy = if parse_bool(name, value)? {
                        RstPolicy::Rfc793
                    } else {
                        RstPolicy::Rfc5961
                    }
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.insecure_syn") => {
                    cfg.syn_policy = if parse_bool(name, value)? {
                        SynPolicy::Rfc793
                    } else {
                        SynPolicy::Rfc5961
                    }
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.drop_synfin") => {
                    cfg.drop_syn_fin = parse_bool(name, value)?
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.rexmit_initial") => {
                    cfg.initial_rto = Duration::from_millis(parse_num(name, value)?)
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.rexmit_min") => {
                    cfg.min_rto = Duration::from_millis(parse_num(name, value)?)
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.msl") => {
                    cfg.msl = Duration::from_millis(parse_num(name, value)?)
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.recvspace") => {
                    cfg.recv_buffer = parse_num(name, value)? as usize
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.sendspace") => {
                    cfg.send_buffer = parse_num(name, value)? as usize
                }
                // RFC 7323: FreeBSD's rfc1323 is 0 (neither), 1 (both), 2 (window scaling
                // only) or 3 (timestamps only).
                (ProfileKind::FreeBsd, "net.inet.tcp.rfc1323") => {
                    let v = parse_num(name, value)?;
                    cfg.window_scaling = v == 1 || v == 2;
                    cfg.timestamps = v == 1 || v == 3;
                }
                (ProfileKind::Linux, "net.ipv4.tcp_timestamps") => {
                    cfg.timestamps = parse_num(name, value)? != 0
                }
                (ProfileKind::Linux, "net.ipv4.tcp_window_scaling") => {
                    cfg.window_scaling = parse_num(name, value)? != 0
                }
                // FreeBSD's delayed_ack turns delayed ACKs off or on; delacktime is the
                // delay in milliseconds (RFC 9293 §3.8.6.3).
                (ProfileKind::FreeBsd, "net.inet.tcp.delayed_ack") => {
                    cfg.delayed_ack = parse_bool(name, value)?.then(|| {
                        cfg.delayed_ack
                            .unwrap_or(Duration::from_millis(FREEBSD_DELACKTIME_MS))
                    });
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.delacktime") => {
                    let delay = Duration::from_millis(parse_num(name, value)?);
                    if cfg.delayed_ack.is_some() {
                        cfg.delayed_ack = Some(delay);
                    }
                }
                // SYN cookies: FreeBSD's syncookies (0 off, 1 when the syncache overflows) and
                // syncookies_only (every SYN); Linux's tcp_syncookies (0, 1 when full, 2 always).
                (ProfileKind::FreeBsd, "net.inet.tcp.syncookies") => {
                    cfg.syn_cookies = if parse_num(name, value)? != 0 {
                        SynCookies::WhenFull
                    } else {
                        SynCookies::Off
                    }
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.syncookies_only") => {
                    if parse_num(name, value)? != 0 {
                        cfg.syn_cookies = SynCookies::Always
                    }
                }
                (ProfileKind::Linux, "net.ipv4.tcp_syncookies") => {
                    cfg.syn_cookies = match parse_num(name, value)? {
                        0 => SynCookies::Off,
                        1 => SynCookies::WhenFull,
                        _ => SynCookies::Always,
                    }
                }
                (ProfileKind::FreeBsd, "net.inet.tcp.sack.enable")
                | (ProfileKind::Linux, "net.ipv4.tcp_sack") => {
                    cfg.sack = parse_num(name, value)? != 0
                }
                // Settings with no counterpart in oxtcp: ECN (not implemented), blackhole
                // (oxtcp always answers closed ports), the host cache (oxtcp keeps none), the
                // socket-buffer ceiling.
                (
                    ProfileKind::FreeBsd,
                    "net.inet.tcp.ecn.enable"
                    | "net.inet.tcp.blackhole"
                    | "net.inet.tcp.hostcache.purgenow"
                    | "net.inet.tcp.hostcache.purge"
                    | "kern.ipc.maxsockbuf",
                )
                | (
                    ProfileKind::Linux,
                    "net.ipv4.tcp_ecn" | "net.core.rmem_max" | "net.core.wmem_max",
                ) => {}
                (ProfileKind::Linux, "net.ipv4.tcp_syn_retries") => {
                    cfg.syn_retries = parse_num(name, value)? as u32
                }
                (ProfileKind::Linux, "net.ipv4.tcp_synack_retries") => {
                    cfg.synack_retries = parse_num(name, value)? as u32
                }
                (ProfileKind::Linux, "net.ipv4.tcp_retries2") => {
                    cfg.data_retries = parse_num(name, value)? as u32
                }
                (ProfileKind::Linux, "net.ipv4.tcp_fin_timeout") => {
                    cfg.fin_wait_2_timeout = Duration::from_secs(parse_num(name, value)?)
                }
                _ => {
                    return Err(Stop::unsupported(format!(
                        "sysctl {name} (profile {})",
                        self.opts.profile.kind
                    )))
                }
            }
        }
        if settings == 0 {
            return Err(Stop::unsupported("sysctl without a setting"));
        }
        self.stack.set_config(cfg);
        Ok(())
    }

    /// Every socket and connection, as `sockstat -s` would list them.
    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut held = Vec::new();
        let v4 = self.local_ip.is_ipv4();
        for (fd, s) in &self.sockets {
            let (state, local, remote) = match s.kind {
                SockKind::Fresh => (State::Closed, None, None),
                SockKind::Listener(l) => {
                    let local = self.stack.listener_info(l).map(|i| i.local);
                    (State::Listen, local, None)
                }
                SockKind::Conn(c) => {
                    held.push(c);
                    match self.stack.info(c) {
                        Some(i) => (i.state, Some(i.tuple.local), Some(i.tuple.remote)),
                        None => (State::Closed, None, None),
                    }
                }
            };
            rows.push(Row {
                held: true,
                v4,
                local_port: local.map_or(0, |a| a.port()),
                remote_port: remote.map(|a| a.port()),
                text: format!(
                    "root     packetdril 1     {fd:<3} tcp{} {:<21} {:<21} {}",
                    if v4 { 4 } else { 6 },
                    local.map_or("*:*".into(), |a| a.to_string()),
                    remote.map_or("*:*".into(), |a| a.to_string()),
                    bsd_state_name(state)
                ),
            });
        }
        for (id, state, tuple) in self.stack.connections() {
            if held.contains(&id) {
                continue;
            }
            rows.push(Row {
                held: false,
                v4: tuple.local.is_ipv4(),
                local_port: tuple.local.port(),
                remote_port: Some(tuple.remote.port()),
                text: format!(
                    "??       ??         ??    ??  tcp{} {:<21} {:<21} {}",
                    if tuple.local.is_ipv4() { 4 } else { 6 },
                    tuple.local,
                    tuple.remote,
                    bsd_state_name(state)
                ),
            });
        }
        rows
    }

    /// `sockstat [-4|-6] [-P tcp] [-s] [-l|-c] [-p port] | grep ... | grep -c WORD | grep N`:
    /// passes when exactly N rows remain.
    fn sockstat(&mut self, cmd: &str) -> Result<(), Stop> {
        let unsupported = || Stop::unsupported(format!("shell pipeline `{cmd}`"));
        let mut stages = cmd.split('|').map(str::trim);
        let head: Vec<&str> = stages.next().unwrap_or("").split_whitespace().collect();
        let (mut fam, mut port, mut listening, mut connected) = (None, None, false, false);
        let mut i = 1;
        while i < head.len() {
            match head[i] {
                "-4" => fam = Some(true),
                "-6" => fam = Some(false),
                "-s" => {}
                "-l" => listening = true,
                "-c" => connected = true,
                "-P" => {
                    i += 1;
                    if head.get(i) != Some(&"tcp") {
                        return Err(unsupported());
                    }
                }
                "-p" => {
                    i += 1;
                    port = Some(
                        head.get(i)
                            .and_then(|p| p.parse::<u16>().ok())
                            .ok_or_else(unsupported)?,
                    );
                }
                _ => return Err(unsupported()),
            }
            i += 1;
        }
        let mut lines: Vec<String> = self
            .rows()
            .into_iter()
            .filter(|r| fam.is_none_or(|v4| r.v4 == v4))
            .filter(|r| port.is_none_or(|p| r.local_port == p || r.remote_port == Some(p)))
            .filter(|r| !listening || r.remote_port.is_none())
            .filter(|r| !connected || r.remote_port.is_some())
            .filter(|r| r.held || !listening)
            .map(|r| r.text)
            .collect();
        let rest: Vec<&str> = stages.collect();
        let Some((last, filters)) = rest.split_last() else {
            return Err(unsupported());
        };
        let mut counted: Option<(String, usize)> = None;
        for stage in filters {
            let w: Vec<&str> = stage.split_whitespace().collect();
            match w.as_slice() {
                ["grep", word] if counted.is_none() => lines.retain(|l| l.contains(word)),
                ["grep", "-c", word] if counted.is_none() => {
                    let n = lines.iter().filter(|l| l.contains(word)).count();
                    counted = Some((word.to_string(), n));
                }
                _ => return Err(unsupported()),
            }
        }
        let w: Vec<&str> = last.split_whitespace().collect();
        let (Some((state, count)), ["grep", want]) = (counted, w.as_slice()) else {
            return Err(unsupported());
        };
        let want: usize = want.parse().map_err(|_| unsupported())?;
        if count == want {
            Ok(())
        } else {
            Err(Stop::fail(
                format!("{want} socket(s) in {state}"),
                format!("{count}; sockstat would show:\n{}", self.rows_text()),
            ))
        }
    }

    fn rows_text(&self) -> String {
        let rows = self.rows();
        if rows.is_empty() {
            return "      (no sockets)".into();
        }
        rows.iter()
            .map(|r| format!("      {}", r.text))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `tcpdrop -s STATE` or `tcpdrop -a`: end those connections as an administrator would.
    fn tcpdrop(&mut self, args: &[&str]) -> Result<(), Stop> {
        let filter: Option<&str> = match args {
            ["-a"] => None,
            ["-s", state] => Some(state),
            _ => return Err(Stop::unsupported(format!("tcpdrop {}", args.join(" ")))),
        };
        let victims: Vec<_> = self
            .stack
            .connections()
            .filter(|(_, s, _)| *s != State::Listen)
            .filter(|(_, s, _)| filter.is_none_or(|f| bsd_state_name(*s) == f))
            .map(|(id, _, _)| id)
            .collect();
        let now = self.instant();
        for id in victims {
            let _ = self.stack.kill(now, id);
        }
        Ok(())
    }

    /// `%{ assert tcpi_state == TCPI_... }%` on the socket most recently created.
    pub(crate) fn code(&mut self, code: &str) -> Result<(), Stop> {
        let unsupported = || Stop::unsupported(format!("code block `{code}`"));
        let w: Vec<&str> = code.split_whitespace().collect();
        let (negate, name) = match w.as_slice() {
            ["assert", "tcpi_state", "==", name] => (false, *name),
            ["assert", "tcpi_state", "!=", name] => (true, *name),
            _ => return Err(unsupported()),
        };
        let want = tcpi_state(name).ok_or_else(unsupported)?;
        let fd = self
            .current_fd
            .ok_or_else(|| Stop::fail("a socket to inspect", "no socket was created"))?;
        let got = match self.sockets.get(&fd).map(|s| s.kind) {
            Some(SockKind::Conn(c)) => self.stack.state(c).unwrap_or(State::Closed),
            Some(SockKind::Listener(_)) => State::Listen,
            Some(SockKind::Fresh) | None => State::Closed,
        };
        if (got == want) != negate {
            Ok(())
        } else {
            Err(Stop::fail(
                format!("tcpi_state {} {}", if negate { "!=" } else { "==" }, want),
                format!("tcpi_state is {got} on fd {fd}"),
            ))
        }
    }
}
