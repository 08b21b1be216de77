//! Which page comes next, read from GitLab's response headers.
//!
//! Offset pagination answers with `x-next-page` (empty on the last page); keyset pagination and
//! some endpoints answer only with an RFC 8288 `Link` header (`rel="next"`), and GitLab.com omits
//! the totals for large collections. We prefer `x-next-page` and fall back to `Link`.

use reqwest::header::HeaderMap;

/// The largest page GitLab serves; fewer round trips for long lists.
pub(crate) const PER_PAGE: &str = "100";

/// Where the next page is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NextPage {
    /// Ask for the same URL with `page=<n>`.
    Number(u32),
    /// Follow this absolute URL (from the `Link` header).
    Url(String),
}

/// The next page after a response with these headers, if there is one.
pub(crate) fn next_page(headers: &HeaderMap) -> Option<NextPage> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    if let Some(number) = header("x-next-page").filter(|value| !value.is_empty()) {
        return number.parse().ok().map(NextPage::Number);
    }
    headers
        .get_all("link")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| link_with_rel(value, "next"))
        .map(NextPage::Url)
}

/// The URL of the `Link` entry with relation `rel`: `<https://…?page=2>; rel="next", <…>; rel="last"`.
pub(crate) fn link_with_rel(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let open = rest.find('<')?;
        let close = open + rest[open..].find('>')?;
        let url = &rest[open + 1..close];
        let after = &rest[close + 1..];
        // The parameters run to the next entry, which starts with `,` followed by `<`.
        let params_end = after.find('<').map_or(after.len(), |next| after[..next].rfind(',').unwrap_or(next));
        let params = &after[..params_end];
        let has_rel = params.split(';').any(|param| {
            let Some((key, value)) = param.split_once('=') else { return false };
            key.trim().eq_ignore_ascii_case("rel")
                && value.trim().trim_matches('"').split_ascii_whitespace().any(|value| value.eq_ignore_ascii_case(rel))
        });
        if has_rel {
            return Some(url.to_owned());
        }
        rest = &after[params_end..];
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn x_next_page_wins_and_empty_means_last_page() {
        let link = r#"<https://gitlab.example/api/v4/x?page=9>; rel="next""#;
        assert_eq!(next_page(&headers(&[("x-next-page", "3"), ("link", link)])), Some(NextPage::Number(3)));
        assert_eq!(
            next_page(&headers(&[("x-next-page", ""), ("link", link)])),
            Some(NextPage::Url("https://gitlab.example/api/v4/x?page=9".into()))
        );
        assert_eq!(next_page(&headers(&[("x-next-page", "")])), None);
        assert_eq!(next_page(&headers(&[])), None);
    }

    #[test]
    fn link_finds_next_among_several_relations() {
        let header = concat!(
            r#"<https://gitlab.com/api/v4/projects/1/notes?page=1&per_page=20>; rel="prev", "#,
            r#"<https://gitlab.com/api/v4/projects/1/notes?page=3&per_page=20>; rel="next", "#,
            r#"<https://gitlab.com/api/v4/projects/1/notes?page=5&per_page=20>; rel="last""#
        );
        assert_eq!(
            link_with_rel(header, "next").as_deref(),
            Some("https://gitlab.com/api/v4/projects/1/notes?page=3&per_page=20")
        );
        assert_eq!(
            link_with_rel(header, "last").as_deref(),
            Some("https://gitlab.com/api/v4/projects/1/notes?page=5&per_page=20")
        );
        assert_eq!(link_with_rel(header, "first"), None);
        // Keyset pagination: only `next`, unquoted and with extra parameters.
        let keyset = "<https://h/api/v4/projects?cursor=a,b&pagination=keyset>; title=x; rel=next";
        assert_eq!(
            link_with_rel(keyset, "next").as_deref(),
            Some("https://h/api/v4/projects?cursor=a,b&pagination=keyset")
        );
        assert_eq!(link_with_rel("garbage", "next"), None);
    }

    /// The real gitlab.com headers recorded in the fixtures: one page, `Link` has only first/last.
    #[test]
    fn recorded_gitlab_com_headers_end_pagination() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gitlab/api/danger-js/getMergeRequestNotes.json");
        let recordings: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let raw = recordings[0]["rawHeaders"].as_array().unwrap();
        let pairs: Vec<(&str, &str)> =
            raw.chunks(2).map(|pair| (pair[0].as_str().unwrap(), pair[1].as_str().unwrap())).collect();
        let map = headers(&pairs);
        assert!(link_with_rel(map.get("link").unwrap().to_str().unwrap(), "first").is_some());
        assert_eq!(next_page(&map), None);
    }
}
