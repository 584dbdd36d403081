//! A real mail stack for the end-to-end tests (tests/e2e.rs): Dovecot serving IMAP out
//! of Maildirs and Postfix delivering into those same Maildirs, both from Debian's
//! packages (`.ci/run` installs them), started once per test binary in a temporary
//! folder on loopback ports chosen at run time, and stopped by PID when dropped (at
//! the latest when the test binary exits).
//!
//! - **TLS.** A test CA and a server certificate for `127.0.0.1`, made with the openssl
//!   CLI. Dovecot has `ssl = required` and two listeners: implicit TLS (`imaps_port`)
//!   and STARTTLS (`imap_port`). Postfix offers STARTTLS (`smtp_port`) and implicit TLS
//!   (`smtps_port`), and SMTP AUTH (after TLS only) through Dovecot's auth socket.
//! - **OAuth2.** Besides passwords (PLAIN, LOGIN), Dovecot takes bearer tokens
//!   (XOAUTH2, OAUTHBEARER) through its oauth2 passdb, which asks a small token
//!   introspection endpoint (RFC 7662) served here on a loopback port about each token;
//!   [`MailStack::issue_token`] makes a token for one user. Each passdb serves only its
//!   own mechanisms, so a password is never accepted as a token or a token as a password.
//!   Postfix offers what Dovecot's auth socket offers (`AUTH PLAIN LOGIN XOAUTH2
//!   OAUTHBEARER` after TLS), so SMTP takes tokens the same way.
//! - **Users.** Every user has a passwd-file of its own (`users/%n`), so a user added
//!   while Dovecot runs is found at its first login (Dovecot re-reads a changed file
//!   at most once a second; a new file needs no re-read). Postfix's
//!   `virtual_mailbox_maps` is a hash table replaced by rename: every Postfix process
//!   sees the old file unlinked and restarts before its next request. Each test makes
//!   its own users, so no two tests share a mailbox.
//! - **Privileges.** Dovecot refuses to run as root, so it runs rootless as the system
//!   user `portal-mail` (made by `.ci/run`, or here when missing), which owns the
//!   Maildirs; Postfix's master runs as root (it must), with `mail_owner = postfix`,
//!   and delivers as `portal-mail` through `virtual_uid_maps`.
//! - **Sender authentication** (tests/e2e_auth.rs). A third Postfix listener,
//!   `mx_port`, is the stack's inbound MX: no AUTH, and OpenDKIM (Debian's `opendkim`)
//!   as its milter, verifying DKIM and writing `Authentication-Results:
//!   mx.portal.test; dkim=…` ([`AUTHSERV_ID`]), with `milter_default_action =
//!   tempfail` so mail is refused, never let in unverified, while OpenDKIM is down.
//!   Incoming copies of that header in the verifier's name are removed (the listener's
//!   own cleanup's `header_checks`, and OpenDKIM's `RemoveARFrom`). OpenDKIM runs as
//!   `portal-mail`, started by the first test that sends to `mx_port` (the other tests
//!   use the submission ports, which have no milter, and do not wait for it); its keys
//!   come from a file, never from DNS. Messages are signed by dkimpy
//!   (tests/fixtures/dkim_sign.py) with keys made by openssl. tests/mailstack/verifier.rs
//!   has the details.
//! - **Nothing leaves the machine.** Postfix listens on 127.0.0.1 only, knows three
//!   test domains, and its `default_transport` and `relay_transport` are `error:`.
//! - **Waiting** is on conditions (a port accepts, a file appears, the queue empties),
//!   each with a deadline; a wait that fails shows the servers' logs.
//! - **Disruption.** Tests hold [`MailStack::share`] while they use the stack; the few
//!   that stop or restart a server hold [`MailStack::exclusive`] instead, which waits
//!   for the others and restarts anything left stopped when it is dropped.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt as _, chown};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::{Sent, portal_bin};

mod verifier;
pub use verifier::{AUTHSERV_ID, FORGER_DOMAIN, Inbound};

/// The unprivileged system user Dovecot runs as and the Maildirs belong to.
pub const MAIL_USER: &str = "portal-mail";
/// The domains Postfix delivers to: the portal's mailboxes, providers, MCOs.
pub const PORTAL_DOMAIN: &str = "portal.test";
pub const CLINIC_DOMAIN: &str = "clinic.test";
pub const MCO_DOMAIN: &str = "mco.test";
/// How long any one condition may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);
/// The media type swaks gives an .xlsx attachment.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

// ---------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------

/// Gives a command the usual file-creation mask: the tests' own process may have
/// another (the portal's store sets 077), and Postfix and Dovecot read each other's
/// files.
fn usual_umask(command: &mut Command) -> &mut Command {
    // SAFETY: umask is async-signal-safe and cannot fail.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        })
    }
}

/// Runs a command to the end; panics with its output when it fails.
fn run(command: &mut Command, what: &str) -> Output {
    let output = usual_umask(command)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{what}: {command:?} failed ({})\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `uid` and `gid` of a user in /etc/passwd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

fn lookup_user(name: &str) -> Option<Owner> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 || fields[0] != name {
            return None;
        }
        Some(Owner {
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
        })
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The unprivileged user, made with useradd when it is missing (as .ci/run does).
fn mail_owner() -> Owner {
    if let Some(owner) = lookup_user(MAIL_USER) {
        return owner;
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
        ])
        .args(["--shell", "/usr/sbin/nologin", MAIL_USER])
        .stdin(Stdio::null())
        .status();
    // Another test binary may have made it meanwhile: look again either way.
    lookup_user(MAIL_USER)
        .unwrap_or_else(|| panic!("cannot create the user {MAIL_USER} ({status:?})"))
}

fn make_dir(path: &Path, mode: u32, owner: Option<Owner>) {
    std::fs::create_dir_all(path)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if let Some(owner) = owner {
        chown(path, Some(owner.uid), Some(owner.gid)).unwrap();
    }
}

/// Writes a file whole and atomically (a temporary name, then rename).
fn write_file(path: &Path, contents: &[u8], mode: u32, owner: Option<Owner>) {
    let name = path.file_name().unwrap().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.new"));
    std::fs::write(&temporary, contents)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", temporary.display()));
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(mode)).unwrap();
    if let Some(owner) = owner {
        chown(&temporary, Some(owner.uid), Some(owner.gid)).unwrap();
    }
    std::fs::rename(&temporary, path).unwrap();
}

/// `count` distinct free TCP ports on 127.0.0.1, found by binding port 0.
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|index| listeners[index].local_addr().unwrap().port())
}

fn accepts(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
}

/// The last `lines` lines of a log file.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| format!("({error})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Regular files under `dir`, recursively (a missing folder holds none).
fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => files_under(&entry.path()),
            Ok(kind) if kind.is_file() => 1,
            _ => 0,
        })
        .sum()
}

fn entries_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.filter_map(Result::ok).count())
}

/// Waits until `done` holds, checking every few milliseconds; panics after `PATIENCE`
/// with `what` and `context()`.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool, context: impl Fn() -> String) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------
// One server process
// ---------------------------------------------------------------------------------

/// A server run in the foreground as our child, leading a process group of its own.
struct Server {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    /// Run as this user (Dovecot); `None` keeps root (Postfix's master).
    user: Option<Owner>,
    /// Ports that accept connections once it is up.
    ports: Vec<u16>,
    /// Its stdout and stderr, and its own log.
    output: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Server {
    fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let output = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&self.output)
            .unwrap();
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output);
        // Postfix's master calls setsid() itself, which a group leader may not do.
        if let Some(user) = self.user {
            command.uid(user.uid).gid(user.gid).process_group(0);
        }
        let child = usual_umask(&mut command)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", self.name));
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        for port in self.ports.clone() {
            while !accepts(port) {
                if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    self.child = None;
                    panic!(
                        "{} exited at start ({status})\n{}\n{}",
                        self.name,
                        tail(&self.output, 20),
                        tail(&self.log, 20)
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "{} does not accept on port {port}\n{}",
                    self.name,
                    tail(&self.log, 20)
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGTERM to the server's whole process group, as `systemctl stop` signals a
    /// service's control group (Dovecot's master alone would leave the IMAP sessions
    /// of its clients running), then waits for the master; SIGKILL to the group if it
    /// has not gone after a while.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: signals the group our child leads (a negative pid names the group),
        // or the child itself when it leads none yet; it is not reaped, so the pid is
        // still ours.
        unsafe {
            if libc::kill(-pid, libc::SIGTERM) != 0 {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(None) => {
                    // SAFETY: as above; the negative pid names its process group.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                    let _ = child.wait();
                    break;
                }
            }
        }
        // A child still exiting may hold a listening socket a moment longer: stopped
        // means no port accepts any more (and a restart can bind them again).
        let deadline = Instant::now() + PATIENCE;
        while self.ports.iter().any(|port| accepts(*port)) {
            assert!(
                Instant::now() < deadline,
                "{}'s ports stay open after it stopped\n{}",
                self.name,
                tail(&self.log, 20)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------
// The OAuth2 provider
// ---------------------------------------------------------------------------------

/// Bearer tokens issued to the stack's users, each → the user it was issued to.
type Tokens = Arc<Mutex<BTreeMap<String, String>>>;

/// Serves RFC 7662 token introspection on a free loopback port, in a thread of the test
/// binary, for Dovecot's oauth2 passdb: `POST` with the form `token=…`, answered
/// `{"active": true, "username": USER}` for a token in `tokens` and `{"active": false}`
/// for any other. Returns the port.
fn serve_introspection(tokens: Tokens) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port for introspection");
    let port = listener.local_addr().unwrap().port();
    std::thread::Builder::new()
        .name("oauth2-introspection".to_owned())
        .spawn(move || {
            for connection in listener.incoming().filter_map(Result::ok) {
                let tokens = Arc::clone(&tokens);
                // A connection of its own thread: a slow client holds up no other.
                std::thread::spawn(move || {
                    // A client that goes away mid-request gets no answer; Dovecot then
                    // fails the login, as it would with a provider that is down.
                    let _ = answer_introspection(connection, &tokens);
                });
            }
        })
        .expect("the introspection thread starts");
    port
}

/// Reads one HTTP request (the body by its Content-Length) and answers it, then closes
/// the connection.
fn answer_introspection(
    connection: TcpStream,
    tokens: &Mutex<BTreeMap<String, String>>,
) -> std::io::Result<()> {
    connection.set_read_timeout(Some(PATIENCE))?;
    let mut reader = BufReader::new(connection.try_clone()?);
    let mut content_length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; content_length.min(64 * 1024)];
    reader.read_exact(&mut body)?;
    let form = String::from_utf8_lossy(&body);
    // Issued tokens are letters, digits and dashes, which form encoding leaves alone;
    // any other token is unknown either way.
    let user = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .and_then(|token| lock(tokens).get(token).cloned());
    let answer = match user {
        Some(user) => serde_json::json!({ "active": true, "username": user }),
        None => serde_json::json!({ "active": false }),
    }
    .to_string();
    let mut connection = connection;
    write!(
        connection,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    connection.flush()
}

// ---------------------------------------------------------------------------------
// The stack
// ---------------------------------------------------------------------------------

/// A mailbox on the stack: a Dovecot user with a Maildir, and its address at Postfix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub password: String,
    pub address: String,
    pub maildir: PathBuf,
}

/// Dovecot and Postfix, running.
pub struct MailStack {
    dir: tempfile::TempDir,
    /// The test CA's certificate (PEM), for `ca_file`.
    pub ca_file: PathBuf,
    /// IMAP with implicit TLS.
    pub imaps_port: u16,
    /// IMAP with STARTTLS.
    pub imap_port: u16,
    /// SMTP with STARTTLS (and AUTH after it).
    pub smtp_port: u16,
    /// SMTP with implicit TLS.
    pub smtps_port: u16,
    /// The verified listener, as a domain's inbound MX (port 25) is: STARTTLS, no AUTH,
    /// mail for the stack's own domains only, and OpenDKIM as its milter
    /// (tests/mailstack/verifier.rs).
    pub mx_port: u16,
    /// Where OpenDKIM listens for Postfix (the milter protocol).
    milter_port: u16,
    owner: Owner,
    dovecot: Mutex<Server>,
    postfix: Mutex<Server>,
    /// OpenDKIM, made and started by the first test that sends to `mx_port`.
    verifier: Mutex<Option<Server>>,
    /// Every address Postfix delivers to → its Dovecot user.
    addresses: Mutex<BTreeMap<String, String>>,
    /// What the introspection endpoint knows (see [`serve_introspection`]).
    tokens: Tokens,
    gate: RwLock<()>,
    sequence: AtomicU64,
}

static SHARED: Mutex<Option<Arc<MailStack>>> = Mutex::new(None);

/// The test binary's one mail stack, started at first use and stopped at exit.
pub fn shared() -> Arc<MailStack> {
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(stack) = slot.as_ref() {
        return Arc::clone(stack);
    }
    let stack = Arc::new(MailStack::start());
    *slot = Some(Arc::clone(&stack));
    // SAFETY: registers a plain function without arguments, run once at exit.
    unsafe { libc::atexit(stop_shared) };
    stack
}

/// At exit: drops the shared stack, which stops both servers and removes its folder.
extern "C" fn stop_shared() {
    let stack = SHARED.lock().unwrap_or_else(PoisonError::into_inner).take();
    drop(stack);
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MailStack {
    /// Makes the certificates and configurations in a new temporary folder and starts
    /// Dovecot and Postfix on free ports.
    pub fn start() -> MailStack {
        assert!(
            is_root(),
            "the e2e mail stack runs Postfix, whose master must start as root"
        );
        for (tool, package) in [
            ("/usr/sbin/dovecot", "dovecot-imapd"),
            ("/usr/sbin/postfix", "postfix"),
            ("/usr/bin/swaks", "swaks"),
            ("/usr/bin/openssl", "openssl"),
        ] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: apt-get install {package} (bash .ci/run does)"
            );
        }
        let owner = mail_owner();
        let postfix_owner =
            lookup_user("postfix").expect("the postfix user (made by the postfix package)");
        // PORTAL_E2E_KEEP=1 leaves the folder (configurations, logs, Maildirs) behind.
        let keep = std::env::var_os("PORTAL_E2E_KEEP").is_some();
        let dir = tempfile::Builder::new()
            .prefix("portal-mailstack-")
            .disable_cleanup(keep)
            .tempdir()
            .expect("a temporary folder");
        if keep {
            eprintln!(
                "mailstack: PORTAL_E2E_KEEP is set: {} stays",
                dir.path().display()
            );
        }
        let root = dir.path().to_path_buf();
        // Dovecot (as portal-mail) and Postfix's daemons (as postfix) walk through it.
        make_dir(&root, 0o755, None);
        for (path, mode, who) in [
            ("tls", 0o755, None),
            ("dovecot", 0o755, Some(owner)),
            ("dovecot/users", 0o700, Some(owner)),
            ("dovecot/state", 0o700, Some(owner)),
            ("mail", 0o755, Some(owner)),
            ("postfix", 0o755, None),
            ("postfix/conf", 0o755, None),
            ("postfix/queue", 0o755, None),
            ("postfix/data", 0o700, Some(postfix_owner)),
        ] {
            make_dir(&root.join(path), mode, who);
        }
        let ca_file = make_certificates(&root.join("tls"), owner);
        let [
            imap_port,
            imaps_port,
            smtp_port,
            smtps_port,
            mx_port,
            milter_port,
        ] = free_ports::<6>();
        let tokens = Tokens::default();
        let introspection_port = serve_introspection(Arc::clone(&tokens));

        write_file(
            &root.join("dovecot/oauth2.conf.ext"),
            dovecot_oauth2_conf_text(introspection_port).as_bytes(),
            0o644,
            Some(owner),
        );
        let dovecot_conf = root.join("dovecot/dovecot.conf");
        write_file(
            &dovecot_conf,
            dovecot_conf_text(&root, imap_port, imaps_port).as_bytes(),
            0o644,
            Some(owner),
        );
        let conf = root.join("postfix/conf");
        write_file(
            &conf.join("main.cf"),
            postfix_main_cf(&root, owner).as_bytes(),
            0o644,
            None,
        );
        write_file(
            &conf.join("master.cf"),
            postfix_master_cf(&conf, smtp_port, smtps_port, mx_port, milter_port).as_bytes(),
            0o644,
            None,
        );
        write_file(
            &conf.join("mx_header_checks"),
            verifier::mx_header_checks_text().as_bytes(),
            0o644,
            None,
        );
        let stack = MailStack {
            ca_file,
            imaps_port,
            imap_port,
            smtp_port,
            smtps_port,
            mx_port,
            milter_port,
            owner,
            dovecot: Mutex::new(Server {
                name: "dovecot",
                program: PathBuf::from("/usr/sbin/dovecot"),
                args: vec!["-F".into(), "-c".into(), dovecot_conf.display().to_string()],
                user: Some(owner),
                ports: vec![imap_port, imaps_port],
                output: root.join("dovecot/dovecot.out"),
                log: root.join("dovecot/dovecot.log"),
                child: None,
            }),
            postfix: Mutex::new(Server {
                name: "postfix",
                program: postfix_daemon_directory(&conf).join("master"),
                // -s: the master stays in the foreground (as `postfix start-fg` runs it).
                args: vec!["-c".into(), conf.display().to_string(), "-s".into()],
                user: None,
                ports: vec![smtp_port, smtps_port, mx_port],
                output: root.join("postfix/master.out"),
                log: root.join("postfix/postfix.log"),
                child: None,
            }),
            verifier: Mutex::new(None),
            addresses: Mutex::new(BTreeMap::new()),
            tokens,
            gate: RwLock::new(()),
            sequence: AtomicU64::new(0),
            dir,
        };
        stack.write_postfix_map(&lock(&stack.addresses));
        // Creates the queue's folders with their owners and checks the configuration.
        run(
            Command::new("/usr/sbin/postfix")
                .arg("-c")
                .arg(&conf)
                .arg("check"),
            "postfix check",
        );
        lock(&stack.dovecot).start();
        lock(&stack.postfix).start();
        stack
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Held by a test while it uses the stack: servers keep running meanwhile.
    pub fn share(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Held by a test that stops or restarts servers: no other test uses the stack
    /// meanwhile.
    pub fn exclusive(&self) -> Exclusive<'_> {
        let guard = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        Exclusive {
            stack: self,
            _guard: guard,
        }
    }

    /// The last lines of both servers' logs, for a failure message.
    pub fn logs(&self) -> String {
        format!(
            "--- dovecot.log\n{}\n--- postfix.log\n{}",
            tail(&self.root().join("dovecot/dovecot.log"), 25),
            tail(&self.root().join("postfix/postfix.log"), 25)
        )
    }

    pub fn dovecot_log(&self) -> String {
        std::fs::read_to_string(self.root().join("dovecot/dovecot.log")).unwrap_or_default()
    }

    /// Postfix's whole log. Postfix writes it through its postlogd, a moment after the
    /// event: a test waits for the lines it expects.
    pub fn postfix_log(&self) -> String {
        std::fs::read_to_string(self.root().join("postfix/postfix.log")).unwrap_or_default()
    }

    // --- users ---------------------------------------------------------------------

    /// New mailboxes, `(user, domain)` each: a Dovecot user with its own passwd-file
    /// and Maildir, and the address `user@domain` at Postfix. A user name is used once.
    pub fn accounts(&self, wanted: &[(&str, &str)]) -> Vec<Account> {
        let mut addresses = lock(&self.addresses);
        let accounts: Vec<Account> = wanted
            .iter()
            .map(|(user, domain)| {
                assert!(
                    !user.is_empty()
                        && user
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "user names are lower-case letters, digits and dashes: {user:?}"
                );
                let address = format!("{user}@{domain}");
                assert!(
                    !addresses.values().any(|known| known == user),
                    "the mailbox user {user} exists already: tests use their own"
                );
                let nanos = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos();
                let password = format!("pw-{user}-{nanos:08x}");
                let home = self.root().join("mail").join(user);
                let maildir = home.join("Maildir");
                make_dir(&home, 0o700, Some(self.owner));
                for sub in ["", "cur", "new", "tmp"] {
                    make_dir(&maildir.join(sub), 0o700, Some(self.owner));
                }
                let line = format!("{user}:{{PLAIN}}{password}::::::\n");
                write_file(
                    &self.root().join("dovecot/users").join(user),
                    line.as_bytes(),
                    0o600,
                    Some(self.owner),
                );
                addresses.insert(address.clone(), (*user).to_owned());
                Account {
                    user: (*user).to_owned(),
                    password,
                    address,
                    maildir,
                }
            })
            .collect();
        self.write_postfix_map(&addresses);
        accounts
    }

    /// Has Dovecot announce nothing but IMAP4rev1 to `account` after login (a userdb
    /// field overriding `imap_capability`), as a plain server would: no MOVE and no
    /// UIDPLUS. Dovecot re-reads the changed passwd-file within a second.
    pub fn plain_imap4rev1(&self, account: &Account) {
        let line = format!(
            "{}:{{PLAIN}}{}::::::userdb_imap_capability=IMAP4rev1\n",
            account.user, account.password
        );
        write_file(
            &self.root().join("dovecot/users").join(&account.user),
            line.as_bytes(),
            0o600,
            Some(self.owner),
        );
        // The file's modification time must move past Dovecot's last read of it.
        std::thread::sleep(Duration::from_millis(1100));
    }

    /// The capabilities `account` sees after login.
    pub fn capabilities(&self, account: &Account) -> Vec<String> {
        let mut session = self.login(account);
        let capabilities = session
            .capabilities()
            .expect("CAPABILITY")
            .iter()
            .map(|c| format!("{c:?}"))
            .collect();
        let _ = session.logout();
        capabilities
    }

    /// Flags every message in `account`'s INBOX `\\Deleted` without expunging, as a mail
    /// client does on delete.
    pub fn flag_deleted(&self, account: &Account) {
        let mut session = self.login(account);
        session.select("INBOX").expect("INBOX");
        session.store("1:*", "+FLAGS (\\Deleted)").expect("STORE");
        let _ = session.logout();
    }

    pub fn account(&self, user: &str, domain: &str) -> Account {
        self.accounts(&[(user, domain)]).remove(0)
    }

    /// A new OAuth2 bearer token for `account`'s user, valid from now on (XOAUTH2 or
    /// OAUTHBEARER as that user only).
    pub fn issue_token(&self, account: &Account) -> String {
        let number = self.sequence.fetch_add(1, Ordering::SeqCst);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let token = format!("tok-{}-{number}-{nanos:08x}", account.user);
        lock(&self.tokens).insert(token.clone(), account.user.clone());
        token
    }

    /// Rebuilds `virtual_mailbox_maps` beside the live table and renames it over it.
    fn write_postfix_map(&self, addresses: &BTreeMap<String, String>) {
        let conf = self.root().join("postfix/conf");
        let text: String = addresses
            .iter()
            .map(|(address, user)| format!("{address} {user}/Maildir/\n"))
            .collect();
        let next = conf.join("mailboxes.next");
        write_file(&next, text.as_bytes(), 0o644, None);
        run(
            Command::new("/usr/sbin/postmap")
                .arg("-c")
                .arg(&conf)
                .arg(format!("hash:{}", next.display())),
            "postmap",
        );
        // Postfix's virtual agent may look it up after taking the mail user's uid.
        let table = conf.join("mailboxes.next.db");
        std::fs::set_permissions(&table, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::rename(&table, conf.join("mailboxes.db")).unwrap();
        std::fs::rename(&next, conf.join("mailboxes")).unwrap();
    }

    // --- mail in ---------------------------------------------------------------------

    /// Sends a message through Postfix's STARTTLS port with swaks, a real SMTP client,
    /// verifying the server's certificate against the test CA. Returns its Message-ID
    /// (without brackets).
    pub fn send(&self, letter: &Letter<'_>) -> String {
        let files = tempfile::tempdir().unwrap();
        let (mut command, message_id) = self.swaks_letter(letter, files.path());
        command
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &self.smtp_port.to_string(),
            ])
            .args(["--tls", "--tls-verify", "--tls-ca-path"])
            .arg(&self.ca_file)
            .args(["--helo", "mail.clinic.test"]);
        let output = run(&mut command, "swaks");
        let transcript = String::from_utf8_lossy(&output.stdout);
        assert!(
            transcript.contains("250 2.0.0 Ok: queued"),
            "Postfix did not queue the message:\n{transcript}"
        );
        message_id
    }

    /// A swaks command that makes `letter` (its attachments written into `files`), and
    /// the Message-ID (without brackets) it gives it; the caller adds where it goes.
    fn swaks_letter(&self, letter: &Letter<'_>, files: &Path) -> (Command, String) {
        let number = self.sequence.fetch_add(1, Ordering::SeqCst);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let message_id = format!(
            "swaks-{number}-{nanos}@{}",
            letter.from.rsplit('@').next().unwrap_or("e2e.test")
        );
        let mut command = Command::new("swaks");
        command
            .args(["--from", letter.from, "--to", letter.to])
            .args(["--header", &format!("Subject: {}", letter.subject)])
            .args(["--header", &format!("Message-Id: <{message_id}>")])
            .args(["--body", letter.body]);
        for header in &letter.headers {
            command.args(["--add-header", header]);
        }
        for (index, (name, bytes)) in letter.attachments.iter().enumerate() {
            let path = files.join(format!("{index}-{name}"));
            std::fs::write(&path, bytes).unwrap();
            command
                .args(["--attach-type", XLSX, "--attach-name", name])
                .arg("--attach")
                .arg(format!("@{}", path.display()));
        }
        (command, message_id)
    }

    /// Sends with swaks and waits until the message is in `to`'s inbox.
    pub fn send_and_wait(&self, letter: &Letter<'_>, to: &Account) -> String {
        assert_eq!(letter.to, to.address);
        let before = self.on_disk(to, None);
        let message_id = self.send(letter);
        self.wait_for_mail(to, None, before + 1);
        message_id
    }

    /// Puts a message straight into an inbox's Maildir, received at `received` (its
    /// INTERNALDATE), as Postfix's virtual agent would. Returns the file name.
    pub fn deliver(&self, to: &Account, raw: &[u8], received: SystemTime) -> String {
        let number = self.sequence.fetch_add(1, Ordering::SeqCst);
        let since = received.duration_since(UNIX_EPOCH).unwrap();
        let name = format!(
            "{}.M{}P{}Q{number}.e2e",
            since.as_secs(),
            since.subsec_micros(),
            std::process::id()
        );
        let temporary = to.maildir.join("tmp").join(&name);
        std::fs::write(&temporary, raw).unwrap();
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600)).unwrap();
        chown(&temporary, Some(self.owner.uid), Some(self.owner.gid)).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&temporary)
            .unwrap()
            .set_modified(received)
            .unwrap();
        std::fs::rename(&temporary, to.maildir.join("new").join(&name)).unwrap();
        name
    }

    // --- looking at mailboxes ------------------------------------------------------

    /// Messages in a folder (`None` is INBOX) as Dovecot's Maildir holds them on disk.
    pub fn on_disk(&self, account: &Account, folder: Option<&str>) -> usize {
        let base = match folder {
            None => account.maildir.clone(),
            Some(folder) => account.maildir.join(format!(".{folder}")),
        };
        // `cur` first: a message Dovecot moves from new to cur meanwhile is missed,
        // never counted twice.
        entries_in(&base.join("cur")) + entries_in(&base.join("new"))
    }

    /// Waits until a folder holds at least `count` messages on disk.
    pub fn wait_for_mail(&self, account: &Account, folder: Option<&str>, count: usize) {
        wait_until(
            &format!(
                "{count} message(s) in {}'s {}",
                account.user,
                folder.unwrap_or("INBOX")
            ),
            || self.on_disk(account, folder) >= count,
            || self.logs(),
        );
    }

    /// Messages in Postfix's queue (being received, waiting, being delivered).
    pub fn queued(&self) -> usize {
        let queue = self.root().join("postfix/queue");
        ["maildrop", "incoming", "active", "deferred", "hold"]
            .iter()
            .map(|name| files_under(&queue.join(name)))
            .sum()
    }

    /// Waits until Postfix has delivered everything it accepted: its queue is empty.
    /// (A client that got `250 Ok: queued` has its message in the queue, so after the
    /// sender has finished, an empty queue means delivered.)
    pub fn wait_until_delivered(&self) {
        wait_until(
            "Postfix's queue to empty",
            || self.queued() == 0,
            || self.logs(),
        );
    }

    /// Every message in a folder, read over IMAP (implicit TLS with the test CA), in
    /// mailbox order; a folder that does not exist holds none.
    pub fn read(&self, account: &Account, folder: &str) -> Vec<Vec<u8>> {
        let mut session = self.login(account);
        let messages = match session.examine(folder) {
            Err(_) => Vec::new(),
            Ok(mailbox) if mailbox.exists == 0 => Vec::new(),
            Ok(_) => {
                let fetches = session
                    .fetch("1:*", "BODY.PEEK[]")
                    .expect("FETCH 1:* BODY.PEEK[]");
                fetches
                    .iter()
                    .map(|fetch| fetch.body().expect("a body").to_vec())
                    .collect()
            }
        };
        let _ = session.logout();
        messages
    }

    /// Compares the notices the store recorded as sent (`notices`) with what reached
    /// `accounts`' inboxes: every one arrived, none that nobody sent, and no more
    /// arrived twice than `kills` (after each kill, at most the one notice in flight is
    /// sent again). Returns how many arrived twice.
    pub fn notice_surplus(
        &self,
        accounts: &[&Account],
        notices: &[portal::store::Notice],
        kills: usize,
    ) -> Result<usize, String> {
        let mut wanted: BTreeMap<(String, String), usize> = BTreeMap::new();
        for notice in notices {
            *wanted
                .entry((notice.to.clone(), notice.subject.clone()))
                .or_default() += 1;
        }
        let mut received: BTreeMap<(String, String), usize> = BTreeMap::new();
        for account in accounts {
            for notice in self.notices(account, "INBOX") {
                *received
                    .entry((account.address.clone(), notice.subject))
                    .or_default() += 1;
            }
        }
        let mut surplus = 0;
        for (key, count) in &received {
            match wanted.get(key) {
                None => return Err(format!("a notice nobody sent: {key:?}")),
                Some(expected) if count < expected => {
                    return Err(format!("a notice lost: {key:?} ({count} of {expected})"));
                }
                Some(expected) => surplus += count - expected,
            }
        }
        if let Some(key) = wanted.keys().find(|key| !received.contains_key(*key)) {
            return Err(format!("a notice never arrived: {key:?}"));
        }
        if surplus > kills {
            return Err(format!(
                "{surplus} notice(s) arrived twice after {kills} kill(s): {received:#?}"
            ));
        }
        Ok(surplus)
    }

    /// [`read`](Self::read), each message parsed as a notice.
    pub fn notices(&self, account: &Account, folder: &str) -> Vec<Sent> {
        self.read(account, folder)
            .iter()
            .map(|raw| Sent::parse(raw))
            .collect()
    }

    /// The Message-IDs (without brackets) of a folder's messages, read over IMAP.
    pub fn message_ids(&self, account: &Account, folder: &str) -> Vec<String> {
        self.read(account, folder)
            .iter()
            .map(|raw| {
                let message = mail_parser::MessageParser::default()
                    .parse(&raw[..])
                    .expect("a message");
                message.message_id().unwrap_or("").to_owned()
            })
            .collect()
    }

    fn login(
        &self,
        account: &Account,
    ) -> imap::Session<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(&self.ca_file).unwrap() {
            roots.add(certificate.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let connection = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", self.imaps_port)).expect("Dovecot accepts");
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut client = imap::Client::new(rustls::StreamOwned::new(connection, tcp));
        client.read_greeting().expect("an IMAP greeting");
        client
            .login(&account.user, &account.password)
            .map_err(|(error, _)| error)
            .unwrap_or_else(|error| {
                panic!(
                    "IMAP login as {} refused: {error}\n{}",
                    account.user,
                    self.logs()
                )
            })
    }
}

/// A message for [`MailStack::send`].
#[derive(Debug, Clone, Default)]
pub struct Letter<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// Extra header lines, e.g. `Auto-Submitted: auto-replied`.
    pub headers: Vec<String>,
    /// `(file name, bytes)`, attached as .xlsx.
    pub attachments: Vec<(String, Vec<u8>)>,
}

/// Exclusive use of the stack, to stop and start its servers. Dropped, it starts again
/// whatever it left stopped, for the tests that come after.
pub struct Exclusive<'a> {
    stack: &'a MailStack,
    _guard: RwLockWriteGuard<'a, ()>,
}

impl Exclusive<'_> {
    pub fn stop_dovecot(&self) {
        lock(&self.stack.dovecot).stop();
    }

    pub fn start_dovecot(&self) {
        lock(&self.stack.dovecot).start();
    }

    pub fn stop_postfix(&self) {
        lock(&self.stack.postfix).stop();
    }

    pub fn start_postfix(&self) {
        lock(&self.stack.postfix).start();
    }

    /// Stops OpenDKIM (started first if no test had started it yet).
    pub fn stop_verifier(&self) {
        self.stack.start_verifier();
        if let Some(verifier) = lock(&self.stack.verifier).as_mut() {
            verifier.stop();
        }
    }

    pub fn start_verifier(&self) {
        if let Some(verifier) = lock(&self.stack.verifier).as_mut() {
            verifier.start();
        }
    }
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        for server in [&self.stack.dovecot, &self.stack.postfix] {
            let mut server = lock(server);
            if !server.is_running() {
                server.start();
            }
        }
        // The verifier runs again if it ran before.
        if let Some(verifier) = lock(&self.stack.verifier).as_mut()
            && !verifier.is_running()
        {
            verifier.start();
        }
    }
}

// ---------------------------------------------------------------------------------
// Certificates and configurations
// ---------------------------------------------------------------------------------

/// A test CA and a server certificate for 127.0.0.1 (and localhost) signed by it.
/// Returns the CA certificate's path.
fn make_certificates(dir: &Path, owner: Owner) -> PathBuf {
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(
        Command::new("openssl")
            .current_dir(dir)
            .args(["req", "-x509"])
            .args(key)
            .args([
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                // Valid past the 61 days a test moves the portal's clock ahead by.
                "-days",
                "90",
                "-subj",
                "/CN=Portal e2e test CA",
            ])
            .args([
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]),
        "openssl: the test CA",
    );
    run(
        Command::new("openssl")
            .current_dir(dir)
            .args(["req", "-new"])
            .args(key)
            .args([
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ]),
        "openssl: the server key",
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n\
         keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    run(
        Command::new("openssl")
            .current_dir(dir)
            .args([
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
            ])
            .args([
                "-days",
                "90",
                "-out",
                "server.pem",
                "-extfile",
                "server.ext",
            ]),
        "openssl: the server certificate",
    );
    // Dovecot reads the key as portal-mail; Postfix reads it as root before it drops
    // privileges.
    for certificate in ["ca.pem", "server.pem"] {
        std::fs::set_permissions(
            dir.join(certificate),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    chown(dir.join("server.key"), Some(owner.uid), Some(owner.gid)).unwrap();
    dir.join("ca.pem")
}

/// A self-contained Dovecot configuration: no system config is read (`-c FILE`).
fn dovecot_conf_text(root: &Path, imap_port: u16, imaps_port: u16) -> String {
    let root = root.display();
    format!(
        "# Written by tests/mailstack.rs: a rootless Dovecot for the e2e tests.\n\
         protocols = imap\n\
         listen = 127.0.0.1\n\
         base_dir = {root}/dovecot/run\n\
         state_dir = {root}/dovecot/state\n\
         instance_name = portal-e2e-{imaps_port}\n\
         log_path = {root}/dovecot/dovecot.log\n\
         info_log_path = {root}/dovecot/dovecot.log\n\
         # Rootless: every process runs as the user that started the master.\n\
         default_login_user = {MAIL_USER}\n\
         default_internal_user = {MAIL_USER}\n\
         default_internal_group = {MAIL_USER}\n\
         mail_uid = {MAIL_USER}\n\
         mail_gid = {MAIL_USER}\n\
         ssl = required\n\
         ssl_cert = <{root}/tls/server.pem\n\
         ssl_key = <{root}/tls/server.key\n\
         auth_mechanisms = plain login xoauth2 oauthbearer\n\
         mail_location = maildir:~/Maildir\n\
         # Passwords for the password mechanisms only, and bearer tokens for the token\n\
         # mechanisms only: neither passdb is asked about the other's secrets.\n\
         passdb {{\n  driver = passwd-file\n  mechanisms = plain login\n  \
           args = scheme=PLAIN username_format=%n {root}/dovecot/users/%n\n}}\n\
         passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  \
           args = {root}/dovecot/oauth2.conf.ext\n}}\n\
         userdb {{\n  driver = passwd-file\n  args = username_format=%n {root}/dovecot/users/%n\n  \
           default_fields = home={root}/mail/%n\n}}\n\
         protocol imap {{\n  mail_max_userip_connections = 100\n}}\n\
         service imap-login {{\n  chroot =\n  \
           inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  \
           inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps_port}\n    ssl = yes\n  }}\n}}\n\
         service anvil {{\n  chroot =\n}}\n\
         # Postfix's smtpd (user postfix) authenticates SMTP clients here.\n\
         service auth {{\n  unix_listener auth-client {{\n    mode = 0666\n  }}\n}}\n"
    )
}

/// The oauth2 passdb's settings: every token is looked up at the introspection
/// endpoint (RFC 7662, `token=…` posted), which must call it active and name the
/// user who logs in.
fn dovecot_oauth2_conf_text(introspection_port: u16) -> String {
    format!(
        "# Written by tests/mailstack.rs: tokens are checked by the test binary.\n\
         introspection_mode = post\n\
         introspection_url = http://127.0.0.1:{introspection_port}/introspect\n\
         username_attribute = username\n\
         active_attribute = active\n\
         active_value = true\n"
    )
}

/// Postfix's main.cf for an instance of its own: its queue and data in the temporary
/// folder, virtual delivery into the Maildirs Dovecot reads, nothing relayed outside.
fn postfix_main_cf(root: &Path, owner: Owner) -> String {
    let root = root.display();
    format!(
        "# Written by tests/mailstack.rs: a Postfix instance for the e2e tests.\n\
         compatibility_level = 3.6\n\
         queue_directory = {root}/postfix/queue\n\
         data_directory = {root}/postfix/data\n\
         mail_owner = postfix\n\
         setgid_group = postdrop\n\
         maillog_file = {root}/postfix/postfix.log\n\
         maillog_file_prefixes = {root}\n\
         myhostname = mx.{PORTAL_DOMAIN}\n\
         mydomain = {PORTAL_DOMAIN}\n\
         myorigin = $myhostname\n\
         mydestination =\n\
         relay_domains =\n\
         local_recipient_maps =\n\
         alias_maps =\n\
         alias_database =\n\
         inet_interfaces = loopback-only\n\
         inet_protocols = ipv4\n\
         mynetworks = 127.0.0.0/8\n\
         relayhost =\n\
         default_transport = error:the e2e mail stack delivers to its own mailboxes only\n\
         relay_transport = error:the e2e mail stack delivers to its own mailboxes only\n\
         virtual_mailbox_domains = {PORTAL_DOMAIN} {CLINIC_DOMAIN} {MCO_DOMAIN}\n\
         virtual_mailbox_base = {root}/mail\n\
         virtual_mailbox_maps = hash:{root}/postfix/conf/mailboxes\n\
         virtual_uid_maps = static:{uid}\n\
         virtual_gid_maps = static:{gid}\n\
         virtual_minimum_uid = 1\n\
         virtual_mailbox_limit = 0\n\
         message_size_limit = 52428800\n\
         smtpd_tls_cert_file = {root}/tls/server.pem\n\
         smtpd_tls_key_file = {root}/tls/server.key\n\
         smtpd_tls_security_level = may\n\
         smtpd_tls_auth_only = yes\n\
         smtpd_sasl_auth_enable = yes\n\
         smtpd_sasl_type = dovecot\n\
         smtpd_sasl_path = {root}/dovecot/run/auth-client\n\
         smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination\n\
         # A test system: no pause when mail arrives faster than it is delivered, and\n\
         # a failed delivery is tried again within seconds.\n\
         in_flow_delay = 0\n\
         queue_run_delay = 1s\n\
         minimal_backoff_time = 1s\n\
         maximal_backoff_time = 2s\n\
         biff = no\n\
         append_dot_mydomain = no\n\
         readme_directory = no\n",
        uid = owner.uid,
        gid = owner.gid,
    )
}

/// master.cf: the three SMTP listeners on 127.0.0.1 and the daemons delivery needs,
/// none of them chrooted. The MX listener alone has a milter, OpenDKIM on
/// `milter_port`; while it does not answer, that listener refuses mail with a 4xx
/// (`milter_default_action = tempfail`): nothing comes in unverified. Its mail goes
/// through a cleanup of its own, whose `header_checks` drop incoming
/// `Authentication-Results` in the verifier's name (tests/mailstack/verifier.rs).
fn postfix_master_cf(
    conf: &Path,
    smtp_port: u16,
    smtps_port: u16,
    mx_port: u16,
    milter_port: u16,
) -> String {
    let conf = conf.display();
    format!(
        "# Written by tests/mailstack.rs.\n\
         127.0.0.1:{smtp_port} inet n - n - - smtpd\n\
         127.0.0.1:{smtps_port} inet n - n - - smtpd\n  \
           -o smtpd_tls_wrappermode=yes\n  -o smtpd_tls_security_level=encrypt\n\
         127.0.0.1:{mx_port} inet n - n - - smtpd\n  \
           -o smtpd_sasl_auth_enable=no\n  \
           -o smtpd_milters=inet:127.0.0.1:{milter_port}\n  \
           -o milter_default_action=tempfail\n  \
           -o cleanup_service_name=mxcleanup\n\
         mxcleanup unix n - n - 0 cleanup\n  \
           -o header_checks=regexp:{conf}/mx_header_checks\n\
         pickup unix n - n 60 1 pickup\n\
         cleanup unix n - n - 0 cleanup\n\
         qmgr unix n - n 300 1 qmgr\n\
         tlsmgr unix - - n 1000? 1 tlsmgr\n\
         rewrite unix - - n - - trivial-rewrite\n\
         bounce unix - - n - 0 bounce\n\
         defer unix - - n - 0 bounce\n\
         trace unix - - n - 0 bounce\n\
         verify unix - - n - 1 verify\n\
         flush unix n - n 1000? 0 flush\n\
         proxymap unix - - n - - proxymap\n\
         proxywrite unix - - n - 1 proxymap\n\
         smtp unix - - n - - smtp\n\
         relay unix - - n - - smtp\n\
         showq unix n - n - - showq\n\
         error unix - - n - - error\n\
         retry unix - - n - - error\n\
         discard unix - - n - - discard\n\
         virtual unix - n n - - virtual\n\
         anvil unix - - n - 1 anvil\n\
         scache unix - - n - 1 scache\n\
         postlog unix-dgram n - n - 1 postlogd\n"
    )
}

/// Where Postfix's daemons are (`/usr/lib/postfix/sbin` on Debian).
fn postfix_daemon_directory(conf: &Path) -> PathBuf {
    let output = run(
        Command::new("/usr/sbin/postconf")
            .arg("-c")
            .arg(conf)
            .args(["-h", "daemon_directory"]),
        "postconf daemon_directory",
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

// ---------------------------------------------------------------------------------
// A portal wired to the stack
// ---------------------------------------------------------------------------------

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Implicit,
    Starttls,
}

/// How the portal logs in: to its two IMAP mailboxes, or to Postfix for SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `password_env`: the login's password (IMAP LOGIN; SMTP AUTH PLAIN or LOGIN).
    Password,
    /// `oauth2_token_command`: XOAUTH2 (IMAP AUTHENTICATE, SMTP AUTH) with the bearer
    /// token the command prints, which is the contents of a token file
    /// ([`Portal::token_file`] for a mailbox, [`Portal::smtp_token_file`] for SMTP).
    OAuth2,
}

/// How a portal reaches the stack.
#[derive(Debug, Clone, Copy)]
pub struct Wiring {
    pub imap: Tls,
    /// `ca_file` set for both mailboxes.
    pub imap_trusts_ca: bool,
    pub imap_auth: Auth,
    pub smtp: Tls,
    /// `ca_file` set in `[smtp]`.
    pub smtp_trusts_ca: bool,
    /// How `[smtp]` logs in, as the intake mailbox's user.
    pub smtp_auth: Auth,
    pub notices_per_sender_per_day: u32,
    /// `[mail] max_message_bytes`.
    pub max_message_bytes: u64,
    /// `[mail] staff_address`: where the daily digest goes (none by default).
    pub staff_address: Option<&'static str>,
    /// `[mail.authentication] trusted_authserv_ids` (the table is left out when empty:
    /// authentication off). [`AUTHSERV_ID`] is the stack's verifier.
    pub trusted_authserv_ids: &'static [&'static str],
}

impl Default for Wiring {
    fn default() -> Self {
        Wiring {
            imap: Tls::Implicit,
            imap_trusts_ca: true,
            imap_auth: Auth::Password,
            smtp: Tls::Starttls,
            smtp_trusts_ca: true,
            smtp_auth: Auth::Password,
            notices_per_sender_per_day: 20,
            max_message_bytes: 25 * 1024 * 1024,
            staff_address: None,
            trusted_authserv_ids: &[],
        }
    }
}

/// The environment variables the portal's config names for its passwords; set for
/// the `portal` child process only.
const INTAKE_PASSWORD: &str = "PORTAL_E2E_INTAKE_PASSWORD";
const INQUIRIES_PASSWORD: &str = "PORTAL_E2E_INQUIRIES_PASSWORD";
const SMTP_PASSWORD: &str = "PORTAL_E2E_SMTP_PASSWORD";

/// One portal installation on the stack: its own store and config in a temporary
/// folder, and four mailboxes of its own — intake and inquiries (read over IMAP),
/// a provider and an MCO dispute mailbox (where notices arrive).
pub struct Portal<'a> {
    pub stack: &'a MailStack,
    pub name: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub intake: Account,
    pub inquiries: Account,
    pub provider: Account,
    pub mco: Account,
}

impl<'a> Portal<'a> {
    pub fn new(stack: &'a MailStack, name: &str) -> Portal<'a> {
        Portal::wired(stack, name, Wiring::default())
    }

    pub fn wired(stack: &'a MailStack, name: &str, wiring: Wiring) -> Portal<'a> {
        let mut accounts = stack
            .accounts(&[
                (&format!("{name}-intake"), PORTAL_DOMAIN),
                (&format!("{name}-inquiries"), PORTAL_DOMAIN),
                (&format!("{name}-provider"), CLINIC_DOMAIN),
                (&format!("{name}-mco"), MCO_DOMAIN),
            ])
            .into_iter();
        let dir = tempfile::Builder::new()
            .prefix(&format!("portal-e2e-{name}-"))
            .tempdir()
            .unwrap();
        let portal = Portal {
            stack,
            name: name.to_owned(),
            config_path: dir.path().join("portal.toml"),
            dir,
            intake: accounts.next().unwrap(),
            inquiries: accounts.next().unwrap(),
            provider: accounts.next().unwrap(),
            mco: accounts.next().unwrap(),
        };
        portal.rewire(wiring);
        portal
    }

    /// Another mailbox at a clinic, e.g. a second sender.
    pub fn clinic_account(&self, role: &str) -> Account {
        self.stack
            .account(&format!("{}-{role}", self.name), CLINIC_DOMAIN)
    }

    /// Writes portal.toml for IMAP and SMTP on the stack; for each login with
    /// [`Auth::OAuth2`], also a newly issued token into its token file.
    pub fn rewire(&self, wiring: Wiring) {
        let repository = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let stack = self.stack;
        let ca = |trusted: bool| {
            if trusted {
                format!("ca_file = {:?}\n", stack.ca_file)
            } else {
                String::new()
            }
        };
        let (imap_tls, imap_port) = match wiring.imap {
            Tls::Implicit => ("implicit", stack.imaps_port),
            Tls::Starttls => ("starttls", stack.imap_port),
        };
        let (smtp_tls, smtp_port) = match wiring.smtp {
            Tls::Implicit => ("implicit", stack.smtps_port),
            Tls::Starttls => ("starttls", stack.smtp_port),
        };
        // The `password_env` or `oauth2_token_command` line of one login.
        let secret = |auth: Auth, variable: &str, account: &Account, token_file: PathBuf| match auth
        {
            Auth::Password => format!("password_env = \"{variable}\"\n"),
            Auth::OAuth2 => {
                let token = stack.issue_token(account);
                write_file(&token_file, token.as_bytes(), 0o600, None);
                let command = format!("cat '{}'", token_file.display());
                format!("oauth2_token_command = {command:?}\n")
            }
        };
        let mailbox = |account: &Account, variable: &str| {
            let secret = secret(
                wiring.imap_auth,
                variable,
                account,
                self.token_file(account),
            );
            format!(
                "address = {:?}\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {imap_port}\ntls = \"{imap_tls}\"\n{}\
                 user = {:?}\n{secret}",
                account.address,
                ca(wiring.imap_trusts_ca),
                account.user
            )
        };
        let mcos: String = crate::common::config()
            .mcos
            .iter()
            .map(|mco| {
                format!(
                    "[[mco]]\ncode = {:?}\nname = {:?}\ndispute_address = {:?}\n",
                    mco.code, mco.name, self.mco.address
                )
            })
            .collect();
        let text = format!(
            "# Written by tests/mailstack.rs for the e2e test {name}.\n\
             [site]\ntemplates_dir = {templates:?}\ncontent_dir = {content:?}\noutput_dir = {site:?}\n\
             [store]\npath = {store:?}\n\
             [mail]\nfrom = \"Provider Resolution Portal <{from}>\"\nnotices_per_sender_per_day = {limit}\n\
             max_message_bytes = {max_bytes}\n{staff}\
             {authentication}\
             [mail.intake]\n{intake}\
             [mail.inquiries]\n{inquiries}\
             [smtp]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"{smtp_tls}\"\n{smtp_ca}\
             user = {smtp_user:?}\n{smtp_secret}\
             {mcos}",
            name = self.name,
            templates = repository.join("templates"),
            content = repository.join("content"),
            site = self.dir.path().join("site"),
            store = self.dir.path().join("store"),
            from = self.intake.address,
            limit = wiring.notices_per_sender_per_day,
            max_bytes = wiring.max_message_bytes,
            staff = wiring
                .staff_address
                .as_ref()
                .map(|address| format!("staff_address = {address:?}\n"))
                .unwrap_or_default(),
            authentication = authentication_table(wiring.trusted_authserv_ids),
            intake = mailbox(&self.intake, INTAKE_PASSWORD),
            inquiries = mailbox(&self.inquiries, INQUIRIES_PASSWORD),
            smtp_ca = ca(wiring.smtp_trusts_ca),
            smtp_user = self.intake.user,
            smtp_secret = secret(
                wiring.smtp_auth,
                SMTP_PASSWORD,
                &self.intake,
                self.smtp_token_file(),
            ),
        );
        portal::config::Config::parse(&text).expect("the e2e config parses");
        std::fs::write(&self.config_path, text).unwrap();
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The file whose contents the portal's `oauth2_token_command` prints for one of
    /// its IMAP mailboxes, as a token helper would: a test may put another token in it.
    pub fn token_file(&self, account: &Account) -> PathBuf {
        self.dir.path().join(format!("{}.token", account.user))
    }

    /// The same for `[smtp]`, whose login is the intake mailbox's user: a file of its
    /// own, so a test may give SMTP another token than the intake mailbox's IMAP login.
    /// (Mailbox users are `<portal>-<role>`, so no mailbox's token file is this one.)
    pub fn smtp_token_file(&self) -> PathBuf {
        self.dir.path().join("smtp.token")
    }

    /// `portal --config … ARGS`, with the passwords in its environment only.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(portal_bin());
        command
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .env_remove("PORTAL_FAILPOINTS")
            .env(INTAKE_PASSWORD, &self.intake.password)
            .env(INQUIRIES_PASSWORD, &self.inquiries.password)
            .env(SMTP_PASSWORD, &self.intake.password);
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("portal runs")
    }

    /// Runs a command that must succeed (exit 0); returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "portal {args:?} failed ({})\nstdout: {}\nstderr: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.stack.logs()
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// A `--json` command's output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("JSON output")
    }

    /// `portal intake --once`, which must succeed; returns its report line.
    pub fn pass(&self) -> String {
        self.ok(&["intake", "--once"])
    }

    /// The provider (or `who`) mails a registration form through Postfix; a pass files
    /// it and staff approve it with `portal registrations approve`. Returns its id.
    pub fn register(&self, who: &Account) -> String {
        let form =
            crate::common::registration_form(&who.address, portal::forms::samples::SAMPLE_NPI);
        let letter = registration_letter(who, &self.intake, form);
        self.stack.send_and_wait(&letter, &self.intake);
        self.approve_registration(who)
    }

    /// [`register`](Self::register) as an authenticated sender: the form's message is
    /// DKIM-signed for `who`'s domain and comes in through the verified listener.
    pub fn register_signed(&self, who: &Account) -> String {
        let form =
            crate::common::registration_form(&who.address, portal::forms::samples::SAMPLE_NPI);
        let letter = registration_letter(who, &self.intake, form);
        let (raw, _) = self.stack.compose(&letter);
        let signed = self.stack.dkim_sign(&raw, domain_of(&who.address));
        self.stack
            .send_inbound_and_wait(&who.address, &self.intake, &signed);
        self.approve_registration(who)
    }

    /// A pass files `who`'s registration form, waiting in the intake inbox; staff approve
    /// it. Returns its id.
    fn approve_registration(&self, who: &Account) -> String {
        let report = self.pass();
        assert!(report.contains("1 registration(s)"), "{report}");
        let registrations = self.json(&["registrations", "list", "--json"]);
        let id = registrations
            .as_array()
            .unwrap()
            .iter()
            .find(|registration| {
                registration["email"] == who.address.as_str() && registration["status"] == "pending"
            })
            .unwrap_or_else(|| {
                panic!(
                    "no pending registration for {}: {registrations:#}",
                    who.address
                )
            })["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.ok(&["registrations", "approve", &id, "--by", "test"]);
        id
    }

    /// The provider mails a complaint template through Postfix; waits until it is in
    /// the intake inbox. Returns its Message-ID.
    pub fn mail_template(&self, from: &Account, subject: &str, template: Vec<u8>) -> String {
        let letter = Letter {
            from: &from.address,
            to: &self.intake.address,
            subject,
            body: "Our complaint template is attached.",
            attachments: vec![("complaint-template.xlsx".to_owned(), template)],
            ..Letter::default()
        };
        self.stack.send_and_wait(&letter, &self.intake)
    }
}

/// The message that carries a registration form from `who` to the intake mailbox.
fn registration_letter<'a>(who: &'a Account, intake: &'a Account, form: Vec<u8>) -> Letter<'a> {
    Letter {
        from: &who.address,
        to: &intake.address,
        subject: "Registration",
        body: "Our registration form is attached.",
        attachments: vec![("registration-form.xlsx".to_owned(), form)],
        ..Letter::default()
    }
}

/// The domain of an address (after its last `@`).
pub fn domain_of(address: &str) -> &str {
    address.rsplit('@').next().unwrap_or(address)
}

/// portal.toml's `[mail.authentication]` table for these ids; nothing when there are none.
fn authentication_table(ids: &[&str]) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let ids: Vec<String> = ids.iter().map(|id| format!("{id:?}")).collect();
    format!(
        "[mail.authentication]\ntrusted_authserv_ids = [{}]\n",
        ids.join(", ")
    )
}
