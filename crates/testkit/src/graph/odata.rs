//! OData query options: `$filter`, `$select`, `$top`, `$orderby`, paging tokens.
