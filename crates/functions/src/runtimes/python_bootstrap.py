"""Rampart's Lambda runtime loop for Python, used when awslambdaric is not importable.

It speaks the Runtime API exactly as AWS's runtime interface client does: fetch the next
invocation, call the handler named by _HANDLER with the event and a context object, post the
result (or the error, shaped as Lambda shapes it) back, and loop. Errors in loading the handler
are reported on every invocation, as awslambdaric reports them.
"""

import decimal
import http.client
import importlib
import json
import os
import sys
import time
import traceback

RUNTIME_API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"


class LambdaContext:
    def __init__(self, request_id, deadline_ms, function_arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


class FaultyHandler(Exception):
    """A handler that could not be loaded: every invocation reports why."""

    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


def load_handler(name):
    module_name, _, function_name = name.rpartition(".")
    if not module_name or not function_name:
        raise FaultyHandler(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{name}': not enough values to unpack (expected 2, got 1)",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise FaultyHandler(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}"
        )
    except SyntaxError as e:
        raise FaultyHandler(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {e}"
        )
    handler = getattr(module, function_name, None)
    if handler is None:
        raise FaultyHandler(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return handler


def default(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class RuntimeApi:
    def __init__(self):
        self.conn = http.client.HTTPConnection(RUNTIME_API)

    def call(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                self.conn.request(method, BASE + path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                return response, response.read()
            except (http.client.HTTPException, ConnectionError):
                # The connection went stale between invocations: open a new one once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(RUNTIME_API)
                if attempt:
                    raise

    def error(self, request_id, error_type, message, stack):
        payload = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}
        print(f"[ERROR] {error_type}: {message}", *(["Traceback (most recent call last):", *stack] if stack else []), sep="\n", flush=True)
        self.call(
            "POST",
            f"/invocation/{request_id}/error",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type},
        )


def main():
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root and task_root not in sys.path:
        sys.path.insert(0, task_root)
    api = RuntimeApi()
    try:
        handler = load_handler(os.environ["_HANDLER"])
        fault = None
    except FaultyHandler as e:
        handler, fault = None, e
    while True:
        response, body = api.call("GET", "/invocation/next")
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        deadline = int(response.getheader("Lambda-Runtime-Deadline-Ms") or 0)
        trace = response.getheader("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        client_context = response.getheader("Lambda-Runtime-Client-Context")
        identity = response.getheader("Lambda-Runtime-Cognito-Identity")
        if fault is not None:
            api.error(request_id, fault.error_type, str(fault), [])
            continue
        try:
            event = json.loads(body) if body else {}
            context = LambdaContext(
                request_id,
                deadline,
                response.getheader("Lambda-Runtime-Invoked-Function-Arn"),
                json.loads(client_context) if client_context else None,
                json.loads(identity) if identity else None,
            )
            result = handler(event, context)
        except Exception as e:
            stack = traceback.format_list(traceback.extract_tb(e.__traceback__)[1:])
            api.error(request_id, type(e).__name__, str(e), stack)
            continue
        try:
            payload = json.dumps(result, default=default).encode()
        except (TypeError, ValueError) as e:
            api.error(request_id, "Runtime.MarshalError", f"Unable to marshal response: {e}", [])
            continue
        api.call("POST", f"/invocation/{request_id}/response", payload, {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
