//! A throwaway PostgreSQL cluster for one test (Debian's `postgresql` package, which
//! `.ci/run` installs): initdb into a temporary directory, started and stopped with pg_ctl
//! on a port of its own, so a test can take the database away and bring it back. As root
//! (CI) it runs as the `postgres` user, since PostgreSQL refuses to run as root.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The newest installed server's binaries.
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("initdb").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

pub struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

impl Cluster {
    /// A new, started cluster, or `None` (after printing SKIPPED) without PostgreSQL.
    pub async fn start() -> Option<Cluster> {
        let Some(bin) = bin_dir() else {
            println!("SKIPPED: PostgreSQL is not installed (apt-get install postgresql)");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("fdns-pg")
            .tempdir()
            .unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown the cluster's directory to postgres");
        }
        let port = super::daemon::free_port().await;
        let cluster = Cluster { bin, dir, port };
        cluster.run(
            "initdb",
            &["-A", "trust", "-U", "postgres", "--no-sync", "-D"],
            true,
        );
        cluster.up(port);
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of the server's programs, as the `postgres` user when we are root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, program: &str, args: &[&str], with_data: bool) {
        let mut cmd = self.command(program);
        cmd.args(args);
        if with_data {
            cmd.arg(self.data());
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{program} {args:?}: {out:?}");
    }

    /// Starts the server on `port` (the cluster's own, or another to make changes that the
    /// instances listening on the first cannot see).
    pub fn up(&self, port: u16) {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-w",
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "start",
                "-D",
            ],
            true,
        );
    }

    pub fn down(&self) {
        self.run("pg_ctl", &["-w", "-m", "fast", "stop", "-D"], true);
    }

    /// The connection string of database `db` on `port`.
    pub fn conninfo(&self, port: u16, db: &str) -> String {
        format!("host=127.0.0.1 port={port} user=postgres dbname={db}")
    }

    pub async fn client(&self, port: u16, db: &str) -> tokio_postgres::Client {
        let (client, conn) =
            tokio_postgres::connect(&self.conninfo(port, db), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(conn);
        client
    }

    /// A new database with the shipped schema.
    pub async fn database(&self, db: &str) -> tokio_postgres::Client {
        self.client(self.port, "postgres")
            .await
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
        let client = self.client(self.port, db).await;
        client
            .batch_execute(include_str!("../../deploy/postgres/schema.sql"))
            .await
            .unwrap();
        client
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-m", "immediate", "stop", "-D"])
            .arg(self.data())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
