//! A throw-away PKI for the tests that speak mutual TLS, made with the `openssl` command line
//! (as `tests/mplane-interop/setup.sh` does): a CA and the certificates it signs, each valid
//! for `localhost` and `127.0.0.1`, for TLS server and client use alike.
// Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

use control::mplane::net::TlsFiles;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA (`ca.pem`, `ca.key`) in a directory, and what it issues there.
pub struct TestPki {
    /// Where every file is.
    pub dir: PathBuf,
}

const CONF: &str = "[ req ]\ndistinguished_name = req_dn\n[ req_dn ]\n[ v3_ca ]\n\
                    basicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
                    subjectKeyIdentifier = hash\n";

const LEAF: &str = "basicConstraints = critical,CA:FALSE\n\
                    keyUsage = critical,digitalSignature,keyEncipherment\n\
                    extendedKeyUsage = serverAuth,clientAuth\n\
                    subjectAltName = DNS:localhost,IP:127.0.0.1\n";

/// Keys are EC P-256: quick to make.
const KEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/// Whether the `openssl` command exists.
pub fn have_openssl() -> bool {
    Command::new("openssl").arg("version").output().is_ok()
}

impl TestPki {
    fn run(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new CA in `dir` (which must exist); `None` without openssl.
    pub fn new(dir: &Path) -> Option<TestPki> {
        if !have_openssl() {
            return None;
        }
        std::fs::write(dir.join("openssl.cnf"), CONF).unwrap();
        let pki = TestPki {
            dir: dir.to_path_buf(),
        };
        pki.self_signed("ca", "/DC=org/DC=mplane/OU=Root-CA/CN=Root-CA-1");
        Some(pki)
    }

    /// A self-signed certificate `<name>.pem` with its key `<name>.key` (a CA of its own).
    pub fn self_signed(&self, name: &str, subject: &str) {
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        let mut args = vec![
            "req",
            "-x509",
            "-config",
            "openssl.cnf",
            "-extensions",
            "v3_ca",
        ];
        args.extend(KEY);
        args.extend([
            "-nodes", "-sha256", "-days", "2", "-subj", subject, "-keyout", &key, "-out", &pem,
        ]);
        self.run(&args);
    }

    /// A certificate the CA signs for `subject`, as `<name>.pem` and `<name>.key`.
    pub fn issue(&self, name: &str, subject: &str) -> TlsFiles {
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        let (ext, pem) = (format!("{name}.ext"), format!("{name}.pem"));
        let mut args = vec!["req", "-new", "-config", "openssl.cnf"];
        args.extend(KEY);
        args.extend([
            "-nodes", "-sha256", "-subj", subject, "-keyout", &key, "-out", &csr,
        ]);
        self.run(&args);
        std::fs::write(self.dir.join(&ext), LEAF).unwrap();
        self.run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-CAserial",
            "ca.srl",
            "-sha256",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ]);
        TlsFiles {
            cert: self.dir.join(pem),
            key: self.dir.join(key),
            ca: self.dir.join("ca.pem"),
        }
    }
}
