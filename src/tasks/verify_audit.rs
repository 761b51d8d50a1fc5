//! `vigil-cli task verify_audit`: checks the audit log's hash chain from
//! its first entry to its head and names the first entry that was altered,
//! or that follows removed entries. Exits non-zero when the chain is
//! broken, so a cron job or a monitoring check can alarm on it.
use loco_rs::prelude::*;

use crate::models::audit;

pub struct VerifyAudit;

#[async_trait]
impl Task for VerifyAudit {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: "verify_audit".to_string(),
            detail: "Check the audit log's hash chain; non-zero exit when it was tampered with"
                .to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, _vars: &task::Vars) -> Result<()> {
        match audit::verify(&ctx.db).await? {
            Ok(count) => {
                println!("audit log intact: {count} entries, every hash checks out");
                Ok(())
            }
            Err(broken) => {
                let message = format!(
                    "audit log TAMPERED at entry {}: {}",
                    broken.id, broken.reason
                );
                eprintln!("{message}");
                Err(Error::string(&message))
            }
        }
    }
}
