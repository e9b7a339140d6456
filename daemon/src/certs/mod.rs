//! Finding other people's certificates beyond the local store: the company LDAP directory
//! (looked up, and written by the CA's `ca.publish`) and the choice of the certificate to
//! encrypt to. The certificate logic itself is `mailseal-pkix`.
pub mod directory;
pub mod find;
pub mod publish;
