//! Lists: [`Page`]s of ARM list results followed through their absolute `nextLink`s.

use futures::{Stream, TryStreamExt as _};
use http::Method;
use serde::de::DeserializeOwned;

use crate::error::{Failure, FailureKind};
use crate::models::{
    CachedImage, CachedImagesListResult, Capabilities, CapabilitiesListResult, ContainerGroup,
    ContainerGroupListResult, Usage, UsageListResult,
};
use crate::rate_limit::RequestClass;
use crate::transport::{CallError, Shared};
use crate::url::Url;

impl Shared {
    /// The items of a list, page after page.
    pub(crate) fn items<'a, P: Page + 'a>(
        &'a self,
        first: Result<Url, CallError>,
    ) -> impl Stream<Item = Result<P::Item, CallError>> + Send + 'a {
        self.pages::<P>(first)
            .map_ok(|page| futures::stream::iter(page.into_items().into_iter().map(Ok)))
            .try_flatten()
    }

    /// Pages of a list, following absolute `nextLink`s.
    fn pages<'a, P: Page + 'a>(
        &'a self,
        first: Result<Url, CallError>,
    ) -> impl Stream<Item = Result<P, CallError>> + Send + 'a {
        futures::stream::try_unfold(Some(first), move |next| async move {
            let Some(url) = next else { return Ok(None) };
            let url = url?;
            let raw = self
                .send(Method::GET, &url, None, RequestClass::Read)
                .await?;
            let page: P = raw.ok_json(P::WHAT)?;
            let next = match page.next_link().filter(|l| !l.is_empty()) {
                Some(link) => {
                    let next = Url::parse(link).map_err(|e| {
                        Failure::new(FailureKind::InvalidResponse, "invalid nextLink")
                            .with_source(e)
                    })?;
                    (next != url).then_some(Ok(next))
                }
                None => None,
            };
            Ok(Some((page, next)))
        })
    }
}

/// A page of a list: its items and the absolute URL of the next page.
pub(crate) trait Page: DeserializeOwned + Send {
    /// What the list holds.
    type Item: Send;
    /// The list, in decode errors ("invalid {WHAT} in response").
    const WHAT: &'static str;
    /// The next page, if any (empty means none).
    fn next_link(&self) -> Option<&str>;
    /// The items of this page.
    fn into_items(self) -> Vec<Self::Item>;
}

/// Implements [`Page`] for list results with `value` and `nextLink`.
macro_rules! page {
    ($($page:ty => $item:ty, $what:literal;)*) => {$(
        impl Page for $page {
            type Item = $item;
            const WHAT: &'static str = $what;
            fn next_link(&self) -> Option<&str> {
                self.next_link.as_deref()
            }
            fn into_items(self) -> Vec<$item> {
                self.value
            }
        }
    )*};
}

page! {
    ContainerGroupListResult => ContainerGroup, "container group list";
    CapabilitiesListResult => Capabilities, "capabilities";
    UsageListResult => Usage, "usages";
    CachedImagesListResult => CachedImage, "cached images";
}
