//! Answers what it was given and what it sees: the event, the invocation's context, a line
//! from `greeting.txt` beside it in the package (so an updated package shows), and the
//! environment Lambda gives a function. `{"fail": "why"}` makes it return an error.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    if let Some(why) = payload.get("fail").and_then(Value::as_str) {
        return Err(format!("asked to fail: {why}").into());
    }
    let task_root = std::env::var("LAMBDA_TASK_ROOT")?;
    let greeting = std::fs::read_to_string(std::path::Path::new(&task_root).join("greeting.txt"))?;
    let env = |name: &str| std::env::var(name).ok();
    Ok(json!({
        "echo": payload,
        "greeting": greeting.trim(),
        "request_id": context.request_id,
        "function_arn": context.invoked_function_arn,
        "deadline_ms": context.deadline,
        "function_name": env("AWS_LAMBDA_FUNCTION_NAME"),
        "memory": env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "handler": env("_HANDLER"),
        "region": env("AWS_REGION"),
        "key_prefix": env("AWS_ACCESS_KEY_ID").map(|k| k.chars().take(4).collect::<String>()),
        // Unique to the execution environment.
        "environment": env("TMPDIR"),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
