//! ListTasks.

use berth_control::{Caller, Control, ListTasks, PageRequest};
use serde::Deserialize;

use super::{decode, page_reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    container_instance: Option<String>,
    family: Option<String>,
    started_by: Option<String>,
    service_name: Option<String>,
    desired_status: Option<String>,
    launch_type: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let q = ListTasks {
        cluster: r.cluster,
        container_instance: r.container_instance,
        family: r.family,
        started_by: r.started_by,
        service_name: r.service_name,
        desired_status: r.desired_status,
        launch_type: r.launch_type,
        page: PageRequest { next_token: r.next_token, max_results: r.max_results },
    };
    let page = control.list_tasks(caller, &q)?;
    page_reply("taskArns", page)
}
