use super::*;
use crate::records::{AuthorizationType, RequestAuthorizer, RouteSettings};

fn api() -> ApiRecord {
    ApiRecord {
        api_id: "api0000001".into(),
        name: "a".into(),
        description: None,
        version: None,
        route_selection_expression: "$request.method $request.path".into(),
        api_key_selection_expression: "$request.header.x-api-key".into(),
        disable_execute_api_endpoint: false,
        ip_address_type: "ipv4".into(),
        tags: BTreeMap::new(),
        created_date: OffsetDateTime::UNIX_EPOCH,
        cors: None,
    }
}

fn route(id: &str, key: &str, target: &str) -> RouteRecord {
    RouteRecord {
        route_id: id.into(),
        route_key: key.into(),
        authorization_type: AuthorizationType::None,
        authorizer_id: None,
        authorization_scopes: Vec::new(),
        target: Some(format!("integrations/{target}")),
        operation_name: None,
        request_models: BTreeMap::new(),
    }
}

fn integration(id: &str) -> IntegrationRecord {
    IntegrationRecord {
        integration_id: id.into(),
        integration_uri: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
        function_name: "f".into(),
        payload_format_version: "2.0".into(),
        timeout_in_millis: 30000,
        description: None,
        integration_method: "POST".into(),
    }
}

fn stage(name: &str, auto_deploy: bool, deployment: Option<&str>) -> StageRecord {
    StageRecord {
        stage_name: name.into(),
        auto_deploy,
        deployment_id: deployment.map(str::to_owned),
        description: None,
        default_route_settings: RouteSettings::default(),
        route_settings: BTreeMap::new(),
        stage_variables: BTreeMap::new(),
        tags: BTreeMap::new(),
        created_date: OffsetDateTime::UNIX_EPOCH,
        last_updated_date: OffsetDateTime::UNIX_EPOCH,
    }
}

fn key(id: &str) -> String {
    child_key("api0000001", id)
}

#[test]
fn a_snapshot_round_trips_through_its_stored_form() {
    let mut config = Configuration::default();
    config.routes.insert(key("r1"), route("r1", "GET /a", "i1"));
    config.integrations.insert(key("i1"), integration("i1"));
    config.authorizers.insert(
        key("z1"),
        AuthorizerRecord {
            authorizer_id: "z1".into(),
            name: "auth".into(),
            identity_source: vec!["$request.header.Authorization".into()],
            issuer: String::new(),
            audience: Vec::new(),
            request: Some(RequestAuthorizer {
                authorizer_uri: "arn".into(),
                function_name: "g".into(),
                payload_format_version: "2.0".into(),
                enable_simple_responses: true,
                ttl_seconds: 0,
            }),
        },
    );
    config.models.insert(
        key("m1"),
        ModelRecord {
            model_id: "m1".into(),
            name: "Item".into(),
            schema: r#"{"type":"object"}"#.into(),
            content_type: "application/json".into(),
            description: None,
        },
    );
    let mut with_cors = api();
    with_cors.cors = Some(CorsConfig {
        allow_origins: vec!["https://a.example".into()],
        ..CorsConfig::default()
    });
    let record = DeploymentRecord {
        deployment_id: "d1".into(),
        description: Some("first".into()),
        auto_deployed: false,
        created_date: OffsetDateTime::UNIX_EPOCH,
        snapshot: config.snapshot(&with_cors),
    };
    let s = &record.snapshot;
    assert!(s.generation < 0);
    assert_eq!(s.routes, vec![route("r1", "GET /a", "i1")]);
    assert_eq!(s.integrations["i1"], integration("i1"));
    assert_eq!(s.authorizers["z1"].name, "auth");
    assert_eq!(s.models["Item"].model_id, "m1");
    assert_eq!(s.cors, with_cors.cors);
    let decoded = Snapshot::decode(&Snapshot::encode(&record)).unwrap();
    assert_eq!(decoded, record);
    // Another deployment's answers are cached apart.
    assert_ne!(config.snapshot(&api()).generation, s.generation);
    // A stored form missing what it may omit still reads; a mangled one does not.
    let bare = br#"{"deployment_id":"d2","created_date":"2026-01-01T00:00:00Z","snapshot":{"generation":-5,"routes":[]}}"#;
    let bare = Snapshot::decode(bare).unwrap();
    assert!(!bare.auto_deployed && bare.snapshot.integrations.is_empty());
    assert!(Snapshot::decode(b"{\"deployment_id\":7}").is_err());
}

#[test]
fn stages_stored_before_deployments_still_read() {
    let old = br#"{"stage_name":"prod","auto_deploy":true,"created_date":"2026-01-01T00:00:00Z","last_updated_date":"2026-01-01T00:00:00Z"}"#;
    let stage: StageRecord = serde_json::from_slice(old).unwrap();
    assert_eq!(stage.deployment_id, None);
}

#[test]
fn a_pending_change_is_in_the_snapshot() {
    let mut config = Configuration::default();
    config.routes.insert(key("r1"), route("r1", "GET /a", "i1"));
    config.routes.insert(key("r2"), route("r2", "GET /b", "i1"));
    let writes = vec![
        records::put(
            ns::ROUTES,
            key("r1"),
            &route("r1", "GET /a", "i2"),
            Expect::Any,
        ),
        records::delete(ns::ROUTES, key("r2"), Expect::Any),
        records::put(
            ns::INTEGRATIONS,
            key("i2"),
            &integration("i2"),
            Expect::Absent,
        ),
    ];
    let mut a = api();
    config.overlay(&writes, &mut a).unwrap();
    let s = config.snapshot(&a);
    assert_eq!(s.routes, vec![route("r1", "GET /a", "i2")]);
    assert!(s.integrations.contains_key("i2"));
}

#[test]
fn auto_deploy_stages_follow_and_superseded_automatic_deployments_go() {
    let mut config = Configuration::default();
    config.routes.insert(key("r1"), route("r1", "GET /a", "i1"));
    config
        .stages
        .insert(key("live"), (stage("live", true, Some("old")), Some(3)));
    config
        .stages
        .insert(key("fixed"), (stage("fixed", false, Some("man")), Some(4)));
    let superseded = vec![
        Stored {
            record: DeploymentRecord {
                deployment_id: "old".into(),
                description: None,
                auto_deployed: true,
                created_date: OffsetDateTime::UNIX_EPOCH,
                snapshot: Snapshot::default(),
            },
            version: 9,
        },
        Stored {
            record: DeploymentRecord {
                deployment_id: "man".into(),
                description: None,
                auto_deployed: false,
                created_date: OffsetDateTime::UNIX_EPOCH,
                snapshot: Snapshot::default(),
            },
            version: 2,
        },
    ];
    // A new AutoDeploy stage created by this very commit follows too, through its own write.
    let mut writes = vec![records::put(
        ns::STAGES,
        key("new"),
        &stage("new", true, None),
        Expect::Absent,
    )];
    let id = config
        .deploy_to_followers(api(), &mut writes, &superseded)
        .unwrap()
        .expect("stages follow");
    let stage_of = |name: &str| -> Option<(StageRecord, Expect)> {
        writes.iter().find_map(|w| match w {
            Write::Put {
                ns: n,
                key: k,
                value,
                expect,
            } if n == ns::STAGES && *k == key(name) => {
                Some((serde_json::from_slice(value).unwrap(), *expect))
            }
            _ => None,
        })
    };
    let (new, expect) = stage_of("new").unwrap();
    assert_eq!(
        (new.deployment_id.as_deref(), expect),
        (Some(id.as_str()), Expect::Absent)
    );
    let (live, expect) = stage_of("live").unwrap();
    assert_eq!(
        (live.deployment_id.as_deref(), expect),
        (Some(id.as_str()), Expect::Version(3))
    );
    assert!(
        stage_of("fixed").is_none(),
        "a stage without AutoDeploy keeps its deployment"
    );
    assert_eq!(
        writes.iter().filter(|w| w.target().0 == ns::STAGES).count(),
        2,
        "one write per stage"
    );
    // The superseded automatic deployment goes, the manual one stays.
    assert!(writes.contains(&records::delete(
        ns::DEPLOYMENTS,
        key("old"),
        Expect::Version(9)
    )));
    assert!(!writes
        .iter()
        .any(|w| w.target() == (ns::DEPLOYMENTS, key("man").as_str())));
    let made = writes
        .iter()
        .find_map(|w| match w {
            Write::Put { ns: n, value, .. } if n == ns::DEPLOYMENTS => {
                Some(Snapshot::decode(value).unwrap())
            }
            _ => None,
        })
        .unwrap();
    assert!(made.auto_deployed);
    assert_eq!(made.deployment_id, id);
    assert_eq!(made.snapshot.routes.len(), 1);
}

#[test]
fn nothing_is_deployed_without_a_following_stage() {
    let mut config = Configuration::default();
    config
        .stages
        .insert(key("fixed"), (stage("fixed", false, None), Some(1)));
    let mut writes = vec![records::put(
        ns::ROUTES,
        key("r1"),
        &route("r1", "GET /a", "i1"),
        Expect::Absent,
    )];
    assert_eq!(
        config.deploy_to_followers(api(), &mut writes, &[]).unwrap(),
        None
    );
    assert_eq!(writes.len(), 1);
}
