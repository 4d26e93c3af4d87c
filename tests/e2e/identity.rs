//! Placeholder: identity, levels and provider-choice journeys (being written).
