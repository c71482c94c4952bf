//! A TCP relay between a client and the scheduler whose connections a
//! test can cut or refuse, to drop a client's connection without the
//! client knowing. It only forwards bytes: TLS goes through it (clients do
//! not check host names).

/// A TCP relay between a client and the scheduler whose connections the
/// test can cut, to drop a client's connection without the client knowing.
pub struct Relay {
    /// Where clients connect (127.0.0.1, port chosen by the system).
    pub addr: String,
    /// While set, new connections are dropped at once.
    pub paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Listens and relays every connection to `target`.
    pub async fn start(target: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let held = connections.clone();
        let paused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let refusing = paused.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if refusing.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close
                }
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                held.lock().unwrap().push(relay);
            }
        });
        Relay {
            addr,
            paused,
            connections,
            accept,
        }
    }

    /// Stops accepting (the listener is gone once this returns), then cuts
    /// every relayed connection.
    pub async fn close(self) {
        self.accept.abort();
        let _ = self.accept.await;
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// Drops every relayed connection (both ends see it close).
    pub fn cut(&self) {
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}
