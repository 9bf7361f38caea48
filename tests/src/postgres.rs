//! A throwaway PostgreSQL cluster for tests: `initdb` into a temp dir owned by the
//! `postgres` user (initdb refuses root), `pg_ctl start` on a free port with its socket in
//! that dir, and `pg_ctl stop -m immediate` on drop. Never the system service.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct PgCluster {
    dir: tempfile::TempDir,
    pub url: String,
}

fn as_postgres(args: &[&str]) -> std::process::Output {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .args(args)
        .output()
        .expect("runuser (the tests run as root and start postgres as the postgres user)");
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl PgCluster {
    pub fn start() -> PgCluster {
        assert!(
            Path::new(BIN).join("initdb").exists(),
            "postgresql-15 is not installed (scripts/lib.sh TEST_PACKAGES installs it)"
        );
        let dir = tempfile::Builder::new()
            .prefix("livecart-pg-")
            .tempdir()
            .expect("tempdir");
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status()
            .expect("chown");
        assert!(status.success(), "chown the cluster dir to postgres");
        let data: PathBuf = dir.path().join("data");
        let data_s = data.to_string_lossy().into_owned();
        as_postgres(&[
            &format!("{BIN}/initdb"),
            "-D",
            &data_s,
            "-A",
            "trust",
            "-U",
            "livecart",
            "--no-sync",
        ]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let sock = dir.path().to_string_lossy().into_owned();
        as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &data_s,
            "-l",
            &format!("{sock}/log"),
            "-o",
            &format!("-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"),
            "-w",
            "start",
        ]);
        PgCluster {
            dir,
            url: format!("postgres://livecart@127.0.0.1:{port}/postgres"),
        }
    }

    /// A new, empty database on the cluster: its URL.
    pub fn create_db(&self, name: &str) -> String {
        as_postgres(&[
            &format!("{BIN}/psql"),
            &self.url,
            "-c",
            &format!("CREATE DATABASE {name}"),
        ]);
        self.url.replace("/postgres", &format!("/{name}"))
    }

    /// Start the server again after [`stop`](Self::stop), on the same port and data.
    pub fn start_again(&self) {
        let data = self.dir.path().join("data").to_string_lossy().into_owned();
        let sock = self.dir.path().to_string_lossy().into_owned();
        let port = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.split('/').next())
            .unwrap_or("");
        as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &data,
            "-l",
            &format!("{sock}/log"),
            "-o",
            &format!("-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"),
            "-w",
            "start",
        ]);
    }

    /// Stop the server now (what "Postgres is stopped" means to a test).
    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{BIN}/pg_ctl"), "-D"])
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
