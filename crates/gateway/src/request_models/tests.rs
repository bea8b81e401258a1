use super::*;

const ITEM: &str = r#"{"type":"object","required":["name","qty"],"properties":{"name":{"type":"string","maxLength":8},"qty":{"type":"integer","minimum":1}},"additionalProperties":false}"#;

fn model(id: &str, schema: &str) -> ModelRecord {
    ModelRecord {
        model_id: id.into(),
        name: "Item".into(),
        schema: schema.into(),
        content_type: "application/json".into(),
        description: None,
    }
}

#[test]
fn a_matching_body_passes() {
    let v = compile(ITEM).unwrap();
    assert_eq!(check(&v, br#"{"name":"nut","qty":2}"#), Ok(()));
}

#[test]
fn a_body_that_is_not_json_is_refused_as_such() {
    let v = compile(ITEM).unwrap();
    assert_eq!(check(&v, b"{\"name\": "), Err(Invalid::NotJson));
    assert_eq!(check(&v, b""), Err(Invalid::NotJson));
    assert_eq!(check(&v, b"\xff\xfe"), Err(Invalid::NotJson));
}

#[test]
fn a_mismatch_lists_its_errors_bounded() {
    let v = compile(ITEM).unwrap();
    let Err(Invalid::Mismatch(errors)) = check(&v, br#"{"name":"nut","qty":"two"}"#) else {
        panic!("a mismatch")
    };
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("/qty:"), "{errors:?}");
    // A huge value is not echoed whole, and many errors are not all listed.
    let huge = format!(r#"{{"name":"{}","qty":0}}"#, "x".repeat(100_000));
    let Err(Invalid::Mismatch(errors)) = check(&v, huge.as_bytes()) else {
        panic!("a mismatch")
    };
    assert!(
        errors.iter().all(|e| e.chars().count() <= MAX_ERROR_CHARS),
        "{errors:?}"
    );
    let many: String = (0..50).map(|i| format!(r#""k{i}":1,"#)).collect();
    let many = format!(r#"{{{many}"name":"n","qty":1}}"#);
    let loose = compile(r#"{"type":"object","additionalProperties":{"type":"string"}}"#).unwrap();
    let Err(Invalid::Mismatch(errors)) = check(&loose, many.as_bytes()) else {
        panic!("a mismatch")
    };
    assert_eq!(errors.len(), MAX_ERRORS);
}

#[test]
fn schemas_that_do_not_compile_are_refused_with_the_reason() {
    assert!(compile("{not json").unwrap_err().contains("not JSON"));
    assert!(compile(r#"{"type":"no-such-type"}"#).is_err());
    assert!(compile(r#"{"type":"object","properties":{"a":{"minimum":"x"}}}"#).is_err());
}

#[test]
fn remote_references_are_never_fetched() {
    // Unresolvable without a network resolver: refused at compile time, never fetched.
    let err = compile(r#"{"$ref":"http://127.0.0.1:9/schema.json"}"#).unwrap_err();
    assert!(!err.is_empty());
    // Nor is a meta-schema of unknown address.
    assert!(compile(r#"{"$schema":"http://127.0.0.1:9/meta.json","type":"object"}"#).is_err());
    // A reference within the schema is fine.
    let local = compile(
        r##"{"definitions":{"n":{"type":"integer"}},"type":"object","properties":{"a":{"$ref":"#/definitions/n"}}}"##,
    )
    .unwrap();
    assert!(check(&local, br#"{"a":"x"}"#).is_err());
    assert!(check(&local, br#"{"a":1}"#).is_ok());
}

#[test]
fn the_model_is_chosen_by_media_type_and_defaults_to_json() {
    let models: BTreeMap<String, String> = [
        ("application/json".to_owned(), "Json".to_owned()),
        ("application/x-thing".to_owned(), "Thing".to_owned()),
    ]
    .into();
    assert_eq!(
        model_for(&models, Some("application/x-thing; charset=utf-8")),
        Some("Thing")
    );
    assert_eq!(model_for(&models, Some("Application/JSON")), Some("Json"));
    assert_eq!(model_for(&models, Some("text/plain")), Some("Json"));
    assert_eq!(model_for(&models, None), Some("Json"));
    assert_eq!(model_for(&BTreeMap::new(), Some("application/json")), None);
    let only: BTreeMap<String, String> =
        [("application/x-thing".to_owned(), "Thing".to_owned())].into();
    assert_eq!(model_for(&only, Some("text/plain")), Some("Thing"));
}

#[test]
fn schemas_compile_once_per_model_version() {
    let schemas = Schemas::default();
    let m = model("m1", ITEM);
    let a = schemas.get("api", &m, 1).unwrap();
    let b = schemas.get("api", &m, 1).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(schemas.len(), 1);
    let changed = model("m1", r#"{"type":"string"}"#);
    let c = schemas.get("api", &changed, 2).unwrap();
    assert!(check(&c, br#""s""#).is_ok() && check(&a, br#""s""#).is_err());
    assert_eq!(schemas.len(), 2);
    assert!(schemas.get("api", &model("m2", "{bad"), 1).is_err());
}

#[test]
fn draft_4_unless_the_schema_names_another() {
    // `const` is not a draft 4 keyword: ignored there, applied under draft 7.
    let d4 = compile(r#"{"const": 1}"#).unwrap();
    assert!(check(&d4, b"2").is_ok());
    let d7 =
        compile(r#"{"$schema": "http://json-schema.org/draft-07/schema#", "const": 1}"#).unwrap();
    assert!(check(&d7, b"2").is_err());
}
