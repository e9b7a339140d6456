//! CMS EnvelopedData and AuthEnvelopedData (being written).
