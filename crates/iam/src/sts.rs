//! STS (query protocol, API version 2011-06-15).

use rampart_wire::protocol::query::XmlWriter;
use rampart_wire::{
    CommonError, Input, OperationContext, OperationSpec, Output, Protocol, Service, ServiceError,
};

/// The operations STS offers.
const OPERATIONS: &[OperationSpec] =
    &[OperationSpec::signed("GetCallerIdentity").without_permission()];

/// The STS service surface.
#[derive(Debug, Default)]
pub struct StsService;

#[async_trait::async_trait]
impl Service for StsService {
    fn signing_name(&self) -> &'static str {
        "sts"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Query {
            xml_namespace: "https://sts.amazonaws.com/doc/2011-06-15/",
            api_version: "2011-06-15",
        }
    }

    fn operations(&self) -> &'static [OperationSpec] {
        OPERATIONS
    }

    async fn call(&self, ctx: OperationContext<'_>, _input: Input) -> Result<Output, ServiceError> {
        match ctx.operation.name {
            "GetCallerIdentity" => {
                let caller = ctx.caller.ok_or_else(|| {
                    CommonError::MissingAuthenticationToken.for_protocol(self.protocol().kind())
                })?;
                let mut xml = XmlWriter::new();
                xml.element("Arn", &caller.arn)
                    .element("UserId", &caller.user_id)
                    .element("Account", &caller.account_id);
                Ok(Output::Query(Some(xml.finish())))
            }
            other => Err(CommonError::UnknownOperation {
                service: "sts".into(),
                operation: other.into(),
            }
            .for_protocol(self.protocol().kind())),
        }
    }
}
