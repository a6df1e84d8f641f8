//! `maxResults`/`nextToken` pagination over key-ordered listings.
//!
//! A token is the hex form of the last key returned, so a page boundary survives
//! inserts and deletes between calls.

use berth_model::EcsError;

#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

impl PageRequest {
    /// The paging members of a List* request.
    pub fn of(next_token: &Option<String>, max_results: Option<i64>) -> PageRequest {
        PageRequest { next_token: next_token.clone(), max_results }
    }

    /// Checks `maxResults` against `1..=limit` and decodes the token.
    fn parse(&self, limit: i64) -> Result<(usize, Option<String>), EcsError> {
        let max = match self.max_results {
            None => limit,
            Some(m) if (1..=limit).contains(&m) => m,
            Some(m) => return Err(EcsError::invalid(format!("maxResults must be between 1 and {limit}, not {m}."))),
        };
        let after = match self.next_token.as_deref() {
            None | Some("") => None,
            Some(t) => Some(decode(t).ok_or_else(|| EcsError::invalid("Invalid nextToken."))?),
        };
        Ok((max as usize, after))
    }

    /// Pages through `items`, which must come in the order `ascending` says by `key`.
    pub fn page<T>(
        &self,
        limit: i64,
        ascending: bool,
        items: impl Iterator<Item = (String, T)>,
    ) -> Result<Page<T>, EcsError> {
        let (max, after) = self.parse(limit)?;
        let mut out = Vec::new();
        let mut last_key = None;
        let mut more = false;
        for (key, item) in items {
            if let Some(a) = &after {
                if (ascending && key <= *a) || (!ascending && key >= *a) {
                    continue;
                }
            }
            if out.len() == max {
                more = true;
                break;
            }
            out.push(item);
            last_key = Some(key);
        }
        Ok(Page { items: out, next_token: if more { last_key.map(|k| encode(&k)) } else { None } })
    }
}

fn encode(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> impl Iterator<Item = (String, usize)> {
        (0..n).map(|i| (format!("k{i:03}"), i))
    }

    #[test]
    fn walks_every_item_once() {
        let mut req = PageRequest { next_token: None, max_results: Some(3) };
        let mut seen = Vec::new();
        loop {
            let page = req.page(100, true, keys(10)).unwrap();
            seen.extend(page.items);
            match page.next_token {
                Some(t) => req.next_token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn descending_and_exact_fit() {
        let req = PageRequest { next_token: None, max_results: Some(2) };
        let page = req.page(100, false, keys(2).collect::<Vec<_>>().into_iter().rev()).unwrap();
        assert_eq!(page.items, vec![1, 0]);
        assert_eq!(page.next_token, None);
    }

    #[test]
    fn rejects_bad_input() {
        let bad_max = PageRequest { next_token: None, max_results: Some(0) };
        assert!(bad_max.page(100, true, keys(1)).is_err());
        let bad_token = PageRequest { next_token: Some("zz".into()), max_results: None };
        assert!(bad_token.page(100, true, keys(1)).is_err());
    }
}
