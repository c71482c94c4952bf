//! [`Module`]: an uploaded task module, known by its content hash, with the
//! task signatures it records (read from its bytes on the client, so that
//! arguments are encoded by the declared parameter types).

use crate::ClientError;
use std::sync::Arc;
use weft_schema::signature::{TaskSignature, module_signatures};

/// A task module uploaded to the cluster. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Module {
    pub(crate) hash: [u8; 32],
    pub(crate) signatures: Arc<Vec<TaskSignature>>,
}

impl Module {
    /// Reads the signatures of a module's bytes (no upload).
    pub(crate) fn describe(bytes: &[u8]) -> Result<Module, ClientError> {
        let signatures = module_signatures(bytes)
            .map_err(|e| ClientError::Module(format!("not a task module: {e}")))?;
        if signatures.is_empty() {
            return Err(ClientError::Module(
                "the module records no tasks (no weft_tasks section); build it with weft-sdk's #[task]".into(),
            ));
        }
        Ok(Module {
            hash: *blake3::hash(bytes).as_bytes(),
            signatures: Arc::new(signatures),
        })
    }

    /// The BLAKE3 hash of the module's bytes.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The tasks it records.
    pub fn signatures(&self) -> &[TaskSignature] {
        &self.signatures
    }

    /// The signature of task `name`, or an error listing the tasks.
    pub fn signature(&self, name: &str) -> Result<&TaskSignature, ClientError> {
        self.signatures
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.signatures.iter().map(|s| s.name.as_str()).collect();
                ClientError::Module(format!(
                    "the module has no task `{name}`; its tasks are: {}",
                    names.join(", ")
                ))
            })
    }
}
