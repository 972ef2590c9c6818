package auditor

// AuditorTemplateFor exposes the template of any prefix to the external
// tests (the raw bulk indexer benchmark writes into identically mapped
// indices).
var AuditorTemplateFor = templateFor
