//! Query strings of `GET /api/todos` and `GET /api/todos/{id}/history`, and
//! the portable SQL (SQLite and PostgreSQL) that lists tasks by them.

use crate::cursor::{Cursor, SortKey};
use crate::error::ApiError;
use crate::task::{normalize_tag, Priority, Task};
use crate::time::format_utc;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
/// Stands for a missing due date, so undated tasks sort after every dated
/// one in ascending order (and first in descending order).
pub const NO_DUE_DATE: &str = "9999-12-31T23:59:59.999999Z";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    DueDate,
    Priority,
    Title,
}

impl SortField {
    const ALL: [Self; 5] = [Self::CreatedAt, Self::UpdatedAt, Self::DueDate, Self::Priority, Self::Title];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::DueDate => "due_date",
            Self::Priority => "priority",
            Self::Title => "title",
        }
    }

    /// Newest first for timestamps of writes; otherwise ascending.
    pub const fn default_order(self) -> SortOrder {
        match self {
            Self::CreatedAt | Self::UpdatedAt => SortOrder::Desc,
            _ => SortOrder::Asc,
        }
    }

    /// The SQL expression sorted on; `key_of` computes the same value in Rust.
    const fn sql(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::DueDate => "COALESCE(due_date, '9999-12-31T23:59:59.999999Z')",
            Self::Priority => "CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END",
            Self::Title => "title",
        }
    }

    pub(crate) const fn has_integer_key(self) -> bool {
        matches!(self, Self::Priority)
    }

    /// The task's value of this sort's SQL expression.
    pub fn key_of(self, task: &Task) -> SortKey {
        match self {
            Self::CreatedAt => SortKey::Text(format_utc(task.created_at)),
            Self::UpdatedAt => SortKey::Text(format_utc(task.updated_at)),
            Self::DueDate => SortKey::Text(task.due_date.map_or_else(|| NO_DUE_DATE.to_owned(), format_utc)),
            Self::Priority => SortKey::Integer(task.priority.rank()),
            Self::Title => SortKey::Text(task.title.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

impl SortOrder {
    const fn sql(self) -> &'static str {
        match self {
            Self::Asc => "ASC",
            Self::Desc => "DESC",
        }
    }

    /// How a later row compares to an earlier one.
    const fn after(self) -> &'static str {
        match self {
            Self::Asc => ">",
            Self::Desc => "<",
        }
    }
}

/// A value bound to a placeholder; the component maps it to the WIT `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlParam {
    Text(String),
    Integer(i64),
    Boolean(bool),
}

impl From<SortKey> for SqlParam {
    fn from(key: SortKey) -> Self {
        match key {
            SortKey::Integer(n) => Self::Integer(n),
            SortKey::Text(text) => Self::Text(text),
        }
    }
}

/// SQL text with `$1..$n` placeholders and their values, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlFragment {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

impl SqlFragment {
    /// Adds a value, returning its placeholder.
    pub fn bind(&mut self, param: SqlParam) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }
}

/// A parsed `GET /api/todos` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub completed: Option<bool>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    /// `q`: a case-insensitive substring of the title or description.
    pub text: Option<String>,
    pub sort: SortField,
    pub order: SortOrder,
    pub limit: u32,
    pub after: Option<Cursor>,
}

/// One page of a task list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TaskPage {
    pub items: Vec<Task>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// The names `ListQuery::parse` reads (`ListParams` has one field for each).
const LIST_PARAMS: [&str; 8] = ["completed", "priority", "tag", "q", "sort", "order", "limit", "cursor"];

/// The parameters of a task list as typed values, for clients that send
/// them as JSON (the MCP server's tools) and for the API's documents; a
/// query string made of them (`to_query`) is parsed and checked by
/// `ListQuery::parse` like any other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(description = "The filters, sort and page of a task list."))]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only completed (`true`) or open (`false`) tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Only tasks with this tag (trimmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::tag_filter"))]
    pub tag: Option<String>,
    /// Text to find in the title or description, ignoring case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Default `created_at`; tasks without a due date sort last by `due_date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortField>,
    /// Default `desc` for `created_at` and `updated_at`, else `asc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<SortOrder>,
    /// Tasks per page, default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page, with the same `sort` and `order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn to_query(&self) -> String {
        query_string(self)
    }
}

/// The parameters of a task's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Audit rows to return, oldest first, default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
}

impl HistoryParams {
    pub fn to_query(&self) -> String {
        query_string(self)
    }
}

/// `name=value&...` of the fields `params` serializes to (scalars, as the
/// API's query strings spell them); absent ones are left out.
pub(crate) fn query_string(params: &impl Serialize) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(params) else {
        return String::new();
    };
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        match value {
            serde_json::Value::Null => {}
            serde_json::Value::String(text) => {
                out.append_pair(&name, &text);
            }
            other => {
                out.append_pair(&name, &other.to_string());
            }
        }
    }
    out.finish()
}

impl ListQuery {
    /// Parses a raw query string. Unknown parameters and empty values are
    /// ignored; a bad value, or a known parameter given twice, is `invalid_query`.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let params = Params::parse(query, &LIST_PARAMS)?;
        let sort = params
            .value("sort", |v| {
                SortField::ALL
                    .into_iter()
                    .find(|s| s.as_str() == v)
                    .ok_or_else(|| "must be one of created_at, updated_at, due_date, priority, title".to_owned())
            })?
            .unwrap_or(SortField::CreatedAt);
        let order = params
            .value("order", |v| match v {
                "asc" => Ok(SortOrder::Asc),
                "desc" => Ok(SortOrder::Desc),
                _ => Err("must be asc or desc".to_owned()),
            })?
            .unwrap_or(sort.default_order());
        let after = params.value("cursor", |v| Cursor::decode(v).map_err(|e| e.to_string()))?;
        if after.as_ref().is_some_and(|c| (c.sort, c.order) != (sort, order)) {
            return Err(ApiError::invalid_query("cursor", "belongs to a different sort or order"));
        }
        Ok(Self {
            completed: params.value("completed", |v| v.parse().map_err(|_| "must be true or false".to_owned()))?,
            priority: params.value("priority", |v| v.parse::<Priority>().map_err(|e| e.to_string()))?,
            tag: params.value("tag", |v| normalize_tag(v).map_err(|e| e.reason))?,
            text: params.value("q", |v| Ok(v.to_owned()))?,
            sort,
            order,
            limit: params.limit()?,
            after,
        })
    }

    /// `WHERE ... ORDER BY ... LIMIT $n` for `SELECT ... FROM task`: this
    /// user's tasks matching the filters, after the cursor, ordered by
    /// (sort key, id), one row more than the page so `page` can tell whether
    /// another follows.
    pub fn to_sql(&self, user_id: &str) -> SqlFragment {
        let mut out = SqlFragment::default();
        let mut conditions = vec![format!("user_id = {}", out.bind(SqlParam::Text(user_id.to_owned())))];
        if let Some(completed) = self.completed {
            conditions.push(format!("completed = {}", out.bind(SqlParam::Boolean(completed))));
        }
        if let Some(priority) = self.priority {
            conditions.push(format!("priority = {}", out.bind(SqlParam::Text(priority.as_str().to_owned()))));
        }
        if let Some(tag) = &self.tag {
            let tag = out.bind(SqlParam::Text(tag.clone()));
            conditions
                .push(format!("EXISTS (SELECT 1 FROM task_tag tt WHERE tt.task_id = task.id AND tt.tag = {tag})"));
        }
        if let Some(text) = &self.text {
            // CAST: PostgreSQL cannot pick among lower()'s overloads for an untyped parameter.
            let pattern = format!("lower(CAST({} AS TEXT))", out.bind(SqlParam::Text(like_pattern(text))));
            conditions.push(format!(
                "(lower(title) LIKE {pattern} ESCAPE '\\' OR lower(description) LIKE {pattern} ESCAPE '\\')"
            ));
        }
        let key = self.sort.sql();
        if let Some(cursor) = &self.after {
            let after = self.order.after();
            let last_key = out.bind(cursor.key.clone().into());
            let last_id = out.bind(SqlParam::Text(cursor.id.to_string()));
            conditions.push(format!("({key} {after} {last_key} OR ({key} = {last_key} AND id {after} {last_id}))"));
        }
        let order = self.order.sql();
        let limit = out.bind(SqlParam::Integer(i64::from(self.limit) + 1));
        out.sql = format!("WHERE {} ORDER BY {key} {order}, id {order} LIMIT {limit}", conditions.join(" AND "));
        out
    }

    /// The page from the rows `to_sql` selected.
    pub fn page(&self, mut rows: Vec<Task>) -> TaskPage {
        let limit = self.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = more.then(|| rows.last().map(|last| self.cursor_after(last).encode())).flatten();
        TaskPage { items: rows, next_cursor }
    }

    fn cursor_after(&self, task: &Task) -> Cursor {
        Cursor { sort: self.sort, order: self.order, key: self.sort.key_of(task), id: task.id }
    }
}

/// `%text%` with LIKE's wildcards and the escape character escaped.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A parsed `GET /api/todos/{id}/history` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    pub limit: u32,
}

impl HistoryQuery {
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        Ok(Self { limit: Params::parse(query, &["limit"])?.limit()? })
    }
}

/// The known, non-empty parameters of a query string, decoded.
pub(crate) struct Params(HashMap<&'static str, String>);

impl Params {
    pub(crate) fn parse(query: &str, known: &[&'static str]) -> Result<Self, ApiError> {
        let mut values = HashMap::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let Some(&name) = known.iter().find(|k| **k == name) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            if values.insert(name, value.into_owned()).is_some() {
                return Err(ApiError::invalid_query(name, "must be given at most once"));
            }
        }
        Ok(Self(values))
    }

    pub(crate) fn value<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        self.0.get(name).map(|v| parse(v).map_err(|reason| ApiError::invalid_query(name, reason))).transpose()
    }

    pub(crate) fn limit(&self) -> Result<u32, ApiError> {
        let limit = self.value("limit", |v| {
            v.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| format!("must be an integer between 1 and {MAX_LIMIT}"))
        })?;
        Ok(limit.unwrap_or(DEFAULT_LIMIT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::NewTask;
    use crate::time::parse_utc;
    use crate::ErrorCode;
    use uuid::Uuid;

    fn parse(query: &str) -> ListQuery {
        ListQuery::parse(query).unwrap()
    }

    fn invalid(query: &str) -> String {
        let err = ListQuery::parse(query).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidQuery, "{query}: {err:?}");
        err.message
    }

    fn task(title: &str) -> Task {
        NewTask::from_json(format!(r#"{{"title": "{title}"}}"#).as_bytes())
            .unwrap()
            .into_task(Uuid::from_u128(9), parse_utc("2026-01-01T00:00:00Z").unwrap())
    }

    #[test]
    fn defaults() {
        assert_eq!(
            parse(""),
            ListQuery {
                completed: None,
                priority: None,
                tag: None,
                text: None,
                sort: SortField::CreatedAt,
                order: SortOrder::Desc,
                limit: 20,
                after: None,
            }
        );
    }

    #[test]
    fn default_order_depends_on_the_sort() {
        assert_eq!(parse("sort=updated_at").order, SortOrder::Desc);
        for sort in ["due_date", "priority", "title"] {
            assert_eq!(parse(&format!("sort={sort}")).order, SortOrder::Asc, "{sort}");
        }
        assert_eq!(parse("sort=title&order=desc").order, SortOrder::Desc);
        assert_eq!(parse("order=asc").order, SortOrder::Asc);
    }

    #[test]
    fn filters_are_decoded() {
        let q = parse("completed=true&priority=high&tag=%20home%20&q=milk+%26+eggs&limit=100");
        assert_eq!(q.completed, Some(true));
        assert_eq!(q.priority, Some(Priority::High));
        assert_eq!(q.tag.as_deref(), Some("home"));
        assert_eq!(q.text.as_deref(), Some("milk & eggs"));
        assert_eq!(q.limit, 100);
        assert_eq!(parse("completed=false").completed, Some(false));
    }

    #[test]
    fn unknown_parameters_and_empty_values_are_ignored() {
        assert_eq!(parse("page=3&foo&q=&tag=&sort="), parse(""));
    }

    #[test]
    fn bad_values_are_invalid_queries_naming_the_parameter() {
        assert!(invalid("completed=yes").starts_with("completed: "));
        assert!(invalid("priority=urgent").starts_with("priority: "));
        assert!(invalid("sort=colour").starts_with("sort: "));
        assert!(invalid("order=up").starts_with("order: "));
        assert!(invalid("tag=%20%20").starts_with("tag: "));
        assert!(invalid(&format!("tag={}", "t".repeat(51))).starts_with("tag: "));
        for limit in ["0", "101", "-1", "ten", "1.5"] {
            assert!(invalid(&format!("limit={limit}")).starts_with("limit: "), "{limit}");
        }
        assert!(invalid("cursor=garbage").starts_with("cursor: "));
        assert_eq!(invalid("limit=5&limit=6"), "limit: must be given at most once");
    }

    #[test]
    fn cursor_must_belong_to_the_same_sort_and_order() {
        let first = parse("sort=title&limit=1");
        let page = first.page(vec![task("a"), task("b")]);
        let cursor = page.next_cursor.unwrap();
        assert!(parse(&format!("sort=title&limit=1&cursor={cursor}")).after.is_some());
        assert_eq!(invalid(&format!("sort=due_date&cursor={cursor}")), "cursor: belongs to a different sort or order");
        assert_eq!(
            invalid(&format!("sort=title&order=desc&cursor={cursor}")),
            "cursor: belongs to a different sort or order"
        );
    }

    #[test]
    fn sql_for_the_defaults() {
        let sql = parse("").to_sql("u1");
        assert_eq!(sql.sql, "WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2");
        assert_eq!(sql.params, [SqlParam::Text("u1".into()), SqlParam::Integer(21)]);
    }

    #[test]
    fn sql_with_every_filter() {
        let sql = parse("completed=false&priority=low&tag=home&q=50%25_off&sort=due_date&limit=5").to_sql("u1");
        assert_eq!(
            sql.sql,
            "WHERE user_id = $1 AND completed = $2 AND priority = $3 \
             AND EXISTS (SELECT 1 FROM task_tag tt WHERE tt.task_id = task.id AND tt.tag = $4) \
             AND (lower(title) LIKE lower(CAST($5 AS TEXT)) ESCAPE '\\' OR lower(description) LIKE lower(CAST($5 AS TEXT)) ESCAPE '\\') \
             ORDER BY COALESCE(due_date, '9999-12-31T23:59:59.999999Z') ASC, id ASC LIMIT $6"
        );
        assert_eq!(
            sql.params,
            [
                SqlParam::Text("u1".into()),
                SqlParam::Boolean(false),
                SqlParam::Text("low".into()),
                SqlParam::Text("home".into()),
                SqlParam::Text("%50\\%\\_off%".into()),
                SqlParam::Integer(6),
            ]
        );
    }

    #[test]
    fn sql_after_a_cursor() {
        let mut high = task("x");
        high.priority = Priority::High;
        let first = parse("sort=priority&order=desc&limit=1");
        let cursor = first.page(vec![high.clone(), task("y")]).next_cursor.unwrap();
        let sql = parse(&format!("sort=priority&order=desc&limit=1&cursor={cursor}")).to_sql("u1");
        let key = "CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END";
        assert_eq!(
            sql.sql,
            format!(
                "WHERE user_id = $1 AND ({key} < $2 OR ({key} = $2 AND id < $3)) ORDER BY {key} DESC, id DESC LIMIT $4"
            )
        );
        assert_eq!(
            sql.params,
            [
                SqlParam::Text("u1".into()),
                SqlParam::Integer(3),
                SqlParam::Text(high.id.to_string()),
                SqlParam::Integer(2),
            ]
        );
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("milk"), "%milk%");
        assert_eq!(like_pattern(r"100%_\"), r"%100\%\_\\%");
    }

    #[test]
    fn pages_carry_a_cursor_only_when_more_rows_follow() {
        let q = parse("limit=2");
        let page = q.page(vec![task("a"), task("b")]);
        assert_eq!((page.items.len(), page.next_cursor), (2, None));
        let page = q.page(vec![task("a"), task("b"), task("c")]);
        assert_eq!(page.items.len(), 2);
        let cursor = Cursor::decode(&page.next_cursor.unwrap()).unwrap();
        assert_eq!(cursor.key, SortKey::Text("2026-01-01T00:00:00.000000Z".into()));
        assert_eq!((cursor.sort, cursor.order, cursor.id), (SortField::CreatedAt, SortOrder::Desc, Uuid::from_u128(9)));
    }

    #[test]
    fn sort_keys_match_the_sql_expressions() {
        let mut t = task("Title");
        assert_eq!(SortField::DueDate.key_of(&t), SortKey::Text(NO_DUE_DATE.into()));
        assert!(SortField::DueDate.sql().contains(NO_DUE_DATE));
        t.due_date = Some(parse_utc("2026-02-03T04:05:06+01:00").unwrap());
        assert_eq!(SortField::DueDate.key_of(&t), SortKey::Text("2026-02-03T03:05:06.000000Z".into()));
        assert_eq!(SortField::Title.key_of(&t), SortKey::Text("Title".into()));
        for p in [Priority::Low, Priority::Medium, Priority::High] {
            t.priority = p;
            assert_eq!(SortField::Priority.key_of(&t), SortKey::Integer(p.rank()));
            let arm = format!("'{}' THEN {}", p.as_str(), p.rank());
            assert!(p == Priority::High || SortField::Priority.sql().contains(&arm), "{arm}");
        }
    }

    #[test]
    fn list_params_name_every_parameter_the_parser_reads() {
        let every = ListParams {
            completed: Some(true),
            priority: Some(Priority::High),
            tag: Some(" home ".into()),
            q: Some("milk & eggs".into()),
            sort: Some(SortField::DueDate),
            order: Some(SortOrder::Desc),
            limit: Some(5),
            cursor: None,
        };
        let json = serde_json::to_value(ListParams { cursor: Some("c".into()), ..every.clone() }).unwrap();
        let names: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut known = LIST_PARAMS.to_vec();
        known.sort_unstable();
        assert_eq!(names, known);
        let q = parse(&every.to_query());
        assert_eq!(
            (q.completed, q.priority, q.tag.as_deref(), q.text.as_deref()),
            (Some(true), Some(Priority::High), Some("home"), Some("milk & eggs"))
        );
        assert_eq!((q.sort, q.order, q.limit), (SortField::DueDate, SortOrder::Desc, 5));
        assert_eq!(ListParams::default().to_query(), "");
        assert_eq!(HistoryParams { limit: Some(7) }.to_query(), "limit=7");
    }

    #[test]
    fn history_limit() {
        assert_eq!(HistoryQuery::parse("").unwrap().limit, 20);
        assert_eq!(HistoryQuery::parse("limit=100&sort=x").unwrap().limit, 100);
        assert_eq!(HistoryQuery::parse("limit=0").unwrap_err().code, ErrorCode::InvalidQuery);
    }
}
