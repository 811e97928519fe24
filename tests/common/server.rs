//! `docent serve` on a free port of 127.0.0.1, stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::TestEnv;

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `docent serve --addr 127.0.0.1:PORT` with `args` and the extra environment.
    pub fn spawn(env: &TestEnv, args: &[&str], extra_env: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let child = env
            .docent()
            .args(["serve", "--addr", addr.as_str()])
            .args(args)
            .envs(extra_env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docent serve starts");
        Self { child, base: format!("http://{addr}") }
    }

    /// Stops the server and returns what it logged.
    pub fn stop_and_read_log(&mut self) -> String {
        self.terminate();
        self.child.stderr.take().map(std::io::read_to_string).transpose().unwrap().unwrap_or_default()
    }

    pub async fn wait_ready(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            if let Ok(response) = http.get(format!("{}/health", self.base)).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                let output = self.child.stderr.take().map(std::io::read_to_string).transpose().unwrap();
                panic!("server exited with {status}: {}", output.unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("server did not become ready");
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
