//! UpdatePrivateDnsNamespace, UpdatePublicDnsNamespace and UpdateHttpNamespace.

use berth_control::{Caller, Control};
use berth_model::discovery::{DiscoveryError, NamespaceType};

use super::{decode, reply};

pub async fn handle(
    control: &Control,
    caller: &Caller,
    body: &[u8],
    kind: NamespaceType,
) -> Result<Vec<u8>, DiscoveryError> {
    reply(&control.update_namespace(caller, kind, decode(body)?).await?)
}
