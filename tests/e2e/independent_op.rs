//! Placeholder: an independent certified OpenID provider as upstream (being written).
