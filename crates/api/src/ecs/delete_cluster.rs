//! DeleteCluster.

use berth_control::{Caller, Control};
use berth_model::cluster::Cluster;
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
struct Request {
    cluster: Option<String>,
}

#[derive(Serialize)]
struct Response {
    cluster: Cluster,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let cluster = control.delete_cluster(caller, required(r.cluster, "cluster")?).await?;
    reply(&Response { cluster })
}
