import PinpointData
import XCTest

final class AnnotationTests: XCTestCase {
    /// An Oxford-IIIT Pet annotation as the dataset ships it: no XML declaration, <difficult> after <bndbox>.
    let oxford = """
        <annotation><folder>OXIIIT</folder><filename>Abyssinian_1.jpg</filename><source><database>OXFORD-IIIT Pet Dataset</database>\
        <annotation>OXIIIT</annotation><image>flickr</image></source><size><width>600</width><height>400</height><depth>3</depth></size>\
        <segmented>0</segmented><object><name>cat</name><pose>Frontal</pose><truncated>0</truncated><occluded>0</occluded>\
        <bndbox><xmin>333</xmin><ymin>72</ymin><xmax>425</xmax><ymax>158</ymax></bndbox><difficult>0</difficult></object></annotation>
        """

    func parse(_ xml: String, file: String = "annotations/xmls/x.xml") throws -> Annotation {
        try Annotation(xml: Array(xml.utf8), file: file)
    }

    func assertRejected(_ xml: String, _ expectation: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(xml), file: file, line: line) { error in
            XCTAssertTrue("\(error)".hasPrefix("annotations/xmls/x.xml: "), "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(expectation), "\(error) should mention \(expectation)", file: file, line: line)
        }
    }

    func testParsesTheOxfordLayout() throws {
        let a = try parse(oxford)
        XCTAssertEqual(a.filename, "Abyssinian_1.jpg")
        XCTAssertEqual([a.width, a.height, a.depth], [600, 400, 3])
        XCTAssertEqual(a.objects.count, 1)
        XCTAssertEqual(a.objects[0].name, "cat")
        XCTAssertEqual(a.objects[0].pose, "Frontal")
        XCTAssertEqual(a.objects[0].box, PixelBox(xmin: 333, ymin: 72, xmax: 425, ymax: 158))
        XCTAssertFalse(a.objects[0].difficult)
        // The tutorial's formulas with the XML's size.
        let box = a.normalizedBox
        XCTAssertEqual(box.x, Float((333.0 + 425) / 2 / 600))
        XCTAssertEqual(box.y, Float((72.0 + 158) / 2 / 400))
        XCTAssertEqual(box.w, Float(92.0 / 600))
        XCTAssertEqual(box.h, Float(86.0 / 400))
    }

    func testDeclarationCommentsWhitespaceEntitiesAndOrderDoNotMatter() throws {
        let xml = """
            \u{FEFF}<?xml version="1.0" encoding="UTF-8"?>
            <!-- written by hand -->
            <annotation>
              <object>
                <difficult>1</difficult>
                <bndbox><ymax>158</ymax><xmax>425.5</xmax><ymin>72</ymin><xmin>333</xmin></bndbox>
                <name>dog &amp; <![CDATA[<friend>]]> &#x41;&#66;</name>
              </object>
              <size><height>400</height><width>600</width></size>
              <filename>a.jpg</filename>
            </annotation>
            """
        let a = try parse(xml)
        XCTAssertEqual(a.objects[0].name, "dog & <friend> AB")
        XCTAssertTrue(a.objects[0].difficult)
        XCTAssertEqual(a.objects[0].box.xmax, 425.5)
        XCTAssertNil(a.depth)
    }

    func testHostileFilesAreRefusedNotObeyed() {
        assertRejected("""
            <?xml version="1.0"?><!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
            <annotation><filename>&xxe;</filename></annotation>
            """, "document type declarations are not accepted")
        assertRejected("""
            <!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
            <annotation>&lol2;</annotation>
            """, "document type declarations are not accepted")
        assertRejected("<annotation><filename>&xxe;</filename></annotation>", "undefined entity '&xxe;'")
        let deep = String(repeating: "<a>", count: 100) + String(repeating: "</a>", count: 100)
        XCTAssertThrowsError(try XML.parse(Array(deep.utf8))) { XCTAssertTrue("\($0)".contains("nested deeper than 64")) }
    }

    func testMalformedXMLNamesLineAndColumn() {
        assertRejected("<annotation>\n  <size><width>600</width></sise>\n</annotation>", "line 2, column 33: </sise> closes <size>")
        assertRejected("<annotation><size>", "is not closed")
        assertRejected("", "no root element")
        assertRejected("<annotation/><annotation/>", "content after the root element")
    }

    func testMissingAndBadElementsAreNamed() {
        assertRejected(oxford.replacingOccurrences(of: "<width>600</width>", with: ""), "missing <size><width>")
        assertRejected(oxford.replacingOccurrences(of: "<xmin>333</xmin>", with: "<xmin>abc</xmin>"), "<bndbox><xmin> is 'abc', not a number")
        assertRejected(oxford.replacingOccurrences(of: "<name>cat</name>", with: ""), "missing <name>")
        assertRejected("<annotation><size><width>6</width><height>4</height></size></annotation>", "no <object>")
        assertRejected(oxford.replacingOccurrences(of: "<annotation>", with: "<root>").replacingOccurrences(of: "</annotation>", with: "</root>")
                        .replacingOccurrences(of: "<root>OXIIIT</root>", with: ""), "root element is <root>")
    }

    func testInvalidBoxesAreRejected() {
        for (from, to) in [("<xmin>333</xmin>", "<xmin>425</xmin>"),       // empty width
                           ("<xmax>425</xmax>", "<xmax>601</xmax>"),       // past the right edge
                           ("<ymin>72</ymin>", "<ymin>-1</ymin>"),         // negative
                           ("<ymax>158</ymax>", "<ymax>nan</ymax>"),       // not finite
                           ("<ymin>72</ymin>", "<ymin>200</ymin>")] {      // inverted
            assertRejected(oxford.replacingOccurrences(of: from, with: to), "invalid box")
        }
        assertRejected(oxford.replacingOccurrences(of: "<width>600</width>", with: "<width>0</width>"), "not a positive whole number")
    }

    func testClassComesFromTheFileNamesFirstLetter() {
        XCTAssertEqual(petClass(forFileName: "Abyssinian_12.jpg"), 1)
        XCTAssertEqual(petClass(forFileName: "beagle_7.jpg"), 0)
    }

    func testMissingFileIsNamed() {
        XCTAssertThrowsError(try Annotation(contentsOf: "/nonexistent/a.xml")) { XCTAssertEqual("\($0)", "/nonexistent/a.xml: no such file") }
    }
}
