// Package layoutcheck holds the cgo-only test that compares the struct
// layouts generated in package vk with the C compiler's view of the Vulkan
// headers: size, alignment and the offset of every field. It has no API;
// "go test" with cgo enabled runs the check (CI does).
package layoutcheck
