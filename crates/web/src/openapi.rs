//! `/api/openapi.json`: the JSON API described in OpenAPI 3.1, written by hand next to the
//! routes (a test checks that every `/api/` route of the router is described here).

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Every API path with its method and what it does; the router test compares against this.
pub const PATHS: &[(&str, &str, &str)] = &[
    ("/api/lists", "get", "已发布的基本养老服务清单（公开）"),
    ("/api/lists/{id}", "get", "清单的一个版本及其事项与规则（公开）"),
    ("/api/lists/diff", "get", "两个版本之间的差异（公开）"),
    ("/api/lists/{id}/export.xlsx", "get", "按清单表格式导出 .xlsx（公开）"),
    (
        "/api/lists/check",
        "post",
        "检查一份清单（TOML）：规则错误附事项、行、列",
    ),
    ("/api/lists/import", "post", "导入 .xlsx 清单为草稿，或返回逐行错误"),
    ("/api/lists/{id}/submit", "post", "草稿提交审核"),
    ("/api/lists/{id}/publish", "post", "审核发布（发布人不能是起草人）"),
    (
        "/api/persons",
        "get",
        "人员查询：姓名或身份证号、区划、日期、排序、分页（限管辖范围，身份证号脱敏，记入审计）",
    ),
    (
        "/api/persons/{id}",
        "get",
        "某人某日的有效信息及来源与全部历史（限管辖范围，记入审计）",
    ),
    (
        "/api/persons/{id}/entitlements",
        "get",
        "某人在某日应享受的全部事项及依据（限管辖范围，记入审计）",
    ),
    ("/api/work", "get", "服务找人工作清单（限管辖范围）"),
    ("/api/simulate/{id}", "get", "调整测算结果"),
    ("/api/visits/rate", "get", "月探访率（按区划）"),
    ("/api/visits/due", "get", "应探访名单"),
    ("/api/visits/followups", "get", "探访后续事项"),
    (
        "/api/visits",
        "post",
        "记录一次探访（JSON；同一提交编号重复提交只保存一次）",
    ),
    (
        "/api/visits/followups/{id}/close",
        "post",
        "办结探访后续事项（JSON：办结日期与结果）",
    ),
    ("/api/openapi.json", "get", "本接口说明"),
];

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (path, method, summary) in PATHS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "integer"}}))
            .collect();
        let public = path.starts_with("/api/lists") && *method == "get" || *path == "/api/openapi.json";
        let mut op = json!({
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": "成功"},
                "400": {"description": "请求有误（附原因）"},
                "401": {"description": "未登录或令牌无效"},
                "403": {"description": "角色无此权限"},
                "404": {"description": "不存在或不在管辖范围内"}
            }
        });
        if !public {
            op["security"] = json!([{"bearer": []}, {"session": []}]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "yanglao 养老服务信息平台 API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "供其他部门系统调用。以 API 令牌（Authorization: Bearer …）认证，令牌有角色与管辖范围；个人数据只返回范围内的人员，身份证号脱敏，每次读取记入审计日志。"
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "yl_session"}
            }
        },
        "paths": Value::Object(paths)
    })
}

pub async fn openapi() -> Response {
    axum::Json(document()).into_response()
}
