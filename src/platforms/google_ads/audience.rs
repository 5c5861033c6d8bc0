//! Customer Match membership through offline user data jobs: one job for additions, one for removals (the API
//! forbids mixing them), identifiers sent in chunks, the job run and its long-running operation polled.

use std::time::Instant;

use serde_json::{json, Value as Json};

use super::client::{Client, Replay};
use super::errors::{parse_status, GoogleAdsError};

/// `sha256 hex` of a normalised email, as Customer Match wants it (lower-case hex).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `addOperations` bodies for a list of hashes, `chunk` identifiers per request.
pub fn operation_bodies(hashes: &[String], remove: bool, chunk: usize) -> Vec<Json> {
    let key = if remove { "remove" } else { "create" };
    hashes
        .chunks(chunk.max(1))
        .map(|c| {
            let ops: Vec<Json> = c
                .iter()
                .map(|h| json!({ key: {"userIdentifiers": [{"hashedEmail": h.to_ascii_lowercase()}]}}))
                .collect();
            json!({"enablePartialFailure": true, "operations": ops})
        })
        .collect()
}

/// Run one job (adds or removes) to completion.
pub async fn run_job(client: &Client, user_list: &str, hashes: &[String], remove: bool) -> Result<(), GoogleAdsError> {
    if hashes.is_empty() {
        return Ok(());
    }
    if let Some(bad) = hashes.iter().find(|h| !is_sha256_hex(h)) {
        return Err(GoogleAdsError::Config(format!(
            "audience member `{}…` is not a sha256 hex digest (members are hashed before upload)",
            bad.chars().take(8).collect::<String>()
        )));
    }
    run(
        client,
        user_list,
        operation_bodies(hashes, remove, client.settings.upload_chunk),
    )
    .await
}

/// Empty a list: a job whose one operation is `removeAll` (it must be a job's first operation, and removals do
/// not mix with additions: the additions go in a job of their own).
pub async fn remove_all(client: &Client, user_list: &str) -> Result<(), GoogleAdsError> {
    run(
        client,
        user_list,
        vec![json!({"enablePartialFailure": true, "operations": [{"removeAll": true}]})],
    )
    .await
}

/// Create a job for the list, add the operation bodies, run it and wait for it.
async fn run(client: &Client, user_list: &str, bodies: Vec<Json>) -> Result<(), GoogleAdsError> {
    let create = json!({"job": {
        "type": "CUSTOMER_MATCH_USER_LIST",
        "customerMatchUserListMetadata": {
            "userList": user_list,
            "consent": {"adUserData": "GRANTED", "adPersonalization": "GRANTED"}
        }
    }});
    let resp = client
        .post(
            &format!("customers/{}/offlineUserDataJobs:create", client.customer_id),
            &create,
            Replay::Unsafe,
        )
        .await?;
    let job = resp
        .get("resourceName")
        .and_then(Json::as_str)
        .ok_or_else(|| GoogleAdsError::Decode("offlineUserDataJobs:create returned no resourceName".into()))?
        .to_string();
    for body in bodies {
        let r = client
            .post(&format!("{job}:addOperations"), &body, Replay::Safe)
            .await?;
        if let Some(pf) = r.get("partialFailureError") {
            let (_, message, errors, _) = parse_status(pf);
            if !errors.is_empty() || !message.is_empty() {
                tracing::warn!(job = %job, errors = errors.len(), "some audience identifiers were rejected: {message}");
            }
        }
    }
    let op = client.post(&format!("{job}:run"), &json!({}), Replay::Unsafe).await?;
    wait_operation(client, op).await
}

/// Poll a `google.longrunning.Operation` until it is done.
pub async fn wait_operation(client: &Client, mut op: Json) -> Result<(), GoogleAdsError> {
    let started = Instant::now();
    loop {
        if op.get("done").and_then(Json::as_bool) == Some(true) {
            if let Some(err) = op.get("error") {
                let msg = err
                    .get("message")
                    .and_then(Json::as_str)
                    .unwrap_or("the upload job failed");
                return Err(GoogleAdsError::Decode(format!("Customer Match upload failed: {msg}")));
            }
            return Ok(());
        }
        let Some(name) = op.get("name").and_then(Json::as_str).map(str::to_string) else {
            // Nothing to poll: the API accepted the run without a handle.
            return Ok(());
        };
        if started.elapsed() > client.settings.poll_max {
            return Err(GoogleAdsError::Decode(format!(
                "the Customer Match upload job {name} is still running; it will finish on its own (check it later)"
            )));
        }
        tokio::time::sleep(client.settings.poll_interval).await;
        op = client.get(&name).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_creates_and_removes() {
        let h: Vec<String> = (0..5).map(|i| format!("{:064x}", i)).collect();
        let b = operation_bodies(&h, false, 2);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0]["enablePartialFailure"], true);
        assert_eq!(
            b[0]["operations"][0]["create"]["userIdentifiers"][0]["hashedEmail"],
            h[0]
        );
        let r = operation_bodies(&h[..1], true, 10);
        assert!(r[0]["operations"][0].get("remove").is_some());
        assert!(is_sha256_hex(&h[0]));
        assert!(!is_sha256_hex("someone@example.com"));
    }
}
